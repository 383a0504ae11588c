//! Go-style flags on the command line.
//!
//! DM's programs are written in Go, whose flag package accepts long flags
//! with one dash (`dmctl -master-addr :8261`, as the DM tutorial writes).
//! clap wants two. [`go_style_args`] rewrites `-name` and `-name=value` to
//! `--name...` when `name` is a long flag the command (or one of its
//! subcommands) defines, and leaves everything else alone.

use std::collections::HashSet;
use std::ffi::OsString;

/// Rewrites single-dash long flags known to `cmd` to double-dash.
pub fn go_style_args<I>(cmd: &clap::Command, args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = OsString>,
{
    let mut longs = HashSet::new();
    collect_longs(cmd, &mut longs);
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if let Some(rest) = text.strip_prefix('-') {
            let name = rest.split('=').next().unwrap_or(rest);
            if !rest.starts_with('-') && name.len() > 1 && longs.contains(name) {
                out.push(OsString::from(format!("-{text}")));
                continue;
            }
        }
        out.push(arg);
    }
    out
}

fn collect_longs(cmd: &clap::Command, longs: &mut HashSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(long) = arg.get_long() {
            longs.insert(long.to_string());
        }
    }
    for sub in cmd.get_subcommands() {
        collect_longs(sub, longs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn rewrite(args: &[&str]) -> Vec<String> {
        let cmd = crate::config::MasterArgs::command();
        go_style_args(&cmd, args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            rewrite(&[
                "dm-master",
                "-master-addr",
                ":8261",
                "-config=x.toml",
                "-L",
                "debug"
            ]),
            [
                "dm-master",
                "--master-addr",
                ":8261",
                "--config=x.toml",
                "-L",
                "debug"
            ]
        );
    }

    #[test]
    fn unknown_and_positional_arguments_are_untouched() {
        assert_eq!(
            rewrite(&["dm-master", "-bogus", "--name", "-x", "--", "-name"]),
            ["dm-master", "-bogus", "--name", "-x", "--", "-name"]
        );
    }
}
