//! Passwords as DM writes them encrypted (`dmctl encrypt`), so a DM file
//! carrying one works unchanged.
//!
//! The format is DM's: base64 (standard alphabet, padded) of a 16-byte
//! random IV, the byte `@`, and the password encrypted with AES-256 in CFB
//! mode (full 128-bit segments, Go's `cipher.NewCFBEncrypter`) under a
//! 32-byte key. The key is DM 2.x's built-in one unless the deployment
//! gives its own (DM's later `secret-key-path`: a file holding 64 hex
//! digits).
//!
//! Every file that takes a password reads it by DM's rule: the decrypted
//! text when it decrypts under the key, else the text as written
//! ([`decrypt_or_plaintext`]), so plaintext passwords keep working too.
//!
//! One key serves a whole cluster: a master given `secret-key-path` loads it
//! at start ([`load_key_file`], refusing to start on a bad file) and makes it
//! the process's key ([`install_process_key`]); it encrypts the passwords it
//! keeps with it and hands it to each worker that registers (as DM's
//! masters do), so the workers decrypt what the masters send. Every master
//! of a cluster must be given the same file. Without one, the process key
//! is DM 2.x's built-in key, so DM 2.x files work unchanged.

use std::path::Path;
use std::sync::RwLock;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// DM 2.x's built-in key (`pkg/encrypt`), as hex.
pub const DM_KEY_HEX: &str = "a529b7665997f043a30ac8fadcb51d6aa032c226ab5b7750530b12b8c1a16a48";

const IV_BYTES: usize = 16;
const SEPARATOR: u8 = b'@';

type Encryptor = cfb_mode::Encryptor<aes::Aes256>;
type Decryptor = cfb_mode::Decryptor<aes::Aes256>;

/// An AES-256 key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Why a text is not an encrypted password, or a key not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("not base64: {0}")]
    Base64(String),
    #[error("too short to hold an IV and '@' ({0} bytes; at least 17)")]
    TooShort(usize),
    #[error("byte 17 is not '@': not DM's format")]
    NoSeparator,
    #[error("the decrypted bytes are not UTF-8 text: wrong key?")]
    NotText,
    #[error("a secret key is 64 hexadecimal digits (32 bytes); found {0}")]
    BadKey(String),
}

/// Why a `secret-key-path` file gives no key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("secret-key-path {path}: cannot read it: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("secret-key-path {path}: {source}")]
    Content {
        path: String,
        #[source]
        source: SecretError,
    },
}

/// The key in a `secret-key-path` file: 64 hexadecimal digits, surrounding
/// whitespace ignored (DM's format).
pub fn load_key_file(path: &Path) -> Result<SecretKey, KeyFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: shown.clone(),
        source,
    })?;
    SecretKey::from_hex(&text).map_err(|source| KeyFileError::Content {
        path: shown,
        source,
    })
}

/// The key this process encrypts and decrypts passwords with, when it was
/// given one; `None` means DM's built-in key.
static PROCESS_KEY: RwLock<Option<SecretKey>> = RwLock::new(None);

/// Makes `key` the process's key (a master's `secret-key-path`, or the key a
/// worker received when it registered).
pub fn install_process_key(key: SecretKey) {
    let mut slot = PROCESS_KEY.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(key);
}

/// The process's key when one was installed, else `None` (DM's built-in key
/// is in use).
pub fn installed_process_key() -> Option<SecretKey> {
    PROCESS_KEY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// The key passwords are encrypted and decrypted with in this process.
pub fn process_key() -> SecretKey {
    installed_process_key().unwrap_or_else(SecretKey::dm_default)
}

impl SecretKey {
    /// The key's 32 bytes (to hand to a worker).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretError::BadKey(format!("{} bytes", bytes.len())))?;
        Ok(Self(array))
    }

    /// The key's check value: the first 8 bytes, in hex, of an all-zero
    /// block encrypted under it (the usual key check value). Equal for equal
    /// keys, different otherwise, and it gives nothing of the key away: the
    /// masters record it to find one given another key than the cluster's.
    pub fn check_value(&self) -> String {
        use aes::cipher::{BlockEncrypt, KeyInit};
        let cipher = aes::Aes256::new(&self.0.into());
        let mut block = aes::Block::default();
        cipher.encrypt_block(&mut block);
        block.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// DM 2.x's built-in key.
    pub fn dm_default() -> Self {
        Self::from_hex(DM_KEY_HEX).unwrap_or(Self([0; 32]))
    }

    /// A key from 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let describe = || {
            let shown: String = text.chars().take(8).collect();
            format!("{} characters starting {shown:?}", text.chars().count())
        };
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SecretError::BadKey(describe()));
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            let pair = text
                .get(2 * i..2 * i + 2)
                .ok_or_else(|| SecretError::BadKey(describe()))?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| SecretError::BadKey(describe()))?;
        }
        Ok(Self(key))
    }

    /// `plaintext` encrypted with a fresh random IV, in DM's format.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let iv: [u8; IV_BYTES] = rand::random();
        self.encrypt_with_iv(plaintext, iv)
    }

    fn encrypt_with_iv(&self, plaintext: &str, iv: [u8; IV_BYTES]) -> String {
        let mut out = Vec::with_capacity(IV_BYTES + 1 + plaintext.len());
        out.extend_from_slice(&iv);
        out.push(SEPARATOR);
        let mut body = plaintext.as_bytes().to_vec();
        Encryptor::new(&self.0.into(), &iv.into()).encrypt(&mut body);
        out.extend_from_slice(&body);
        STANDARD.encode(out)
    }

    /// The password `text` encrypts.
    pub fn decrypt(&self, text: &str) -> Result<String, SecretError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| SecretError::Base64(e.to_string()))?;
        if bytes.len() < IV_BYTES + 1 {
            return Err(SecretError::TooShort(bytes.len()));
        }
        let (iv, rest) = bytes.split_at(IV_BYTES);
        let Some((&SEPARATOR, body)) = rest.split_first() else {
            return Err(SecretError::NoSeparator);
        };
        let mut iv_array = [0u8; IV_BYTES];
        iv_array.copy_from_slice(iv);
        let mut plain = body.to_vec();
        Decryptor::new(&self.0.into(), &iv_array.into()).decrypt(&mut plain);
        String::from_utf8(plain).map_err(|_| SecretError::NotText)
    }

    /// DM's rule for a password field: what `text` decrypts to, or `text`
    /// itself when it is not an encrypted password.
    pub fn decrypt_or_plaintext(&self, text: &str) -> String {
        self.decrypt(text).unwrap_or_else(|_| text.to_string())
    }
}

/// [`SecretKey::decrypt_or_plaintext`] under the process's key.
pub fn decrypt_or_plaintext(text: &str) -> String {
    process_key().decrypt_or_plaintext(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with `openssl enc -aes-256-cfb -K <DM's key> -iv
    /// 000102030405060708090a0b0c0d0e0f`, then IV, '@' and the ciphertext
    /// in base64: what DM's `encrypt` writes for that IV.
    const VECTORS: [(&str, &str); 2] = [
        ("123456", "AAECAwQFBgcICQoLDA0OD0AQo3le16c="),
        (
            "a longer password, past one AES block!",
            "AAECAwQFBgcICQoLDA0OD0BAsSYFjPZDk80K2Q0kSPWCPBff5Zi0Y/11hoOo7ae9Va/PQeLILQ==",
        ),
    ];

    const IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    #[test]
    fn dms_format_under_dms_key() {
        let key = SecretKey::dm_default();
        for (plain, encrypted) in VECTORS {
            assert_eq!(key.decrypt(encrypted).as_deref(), Ok(plain));
            assert_eq!(key.encrypt_with_iv(plain, IV), encrypted);
            assert_eq!(key.decrypt_or_plaintext(encrypted), plain);
        }
    }

    #[test]
    fn encrypt_round_trips_with_a_fresh_iv_each_time() {
        let key = SecretKey::dm_default();
        let a = key.encrypt("s3cret");
        let b = key.encrypt("s3cret");
        assert_ne!(a, b, "a random IV each time");
        assert_eq!(key.decrypt(&a).as_deref(), Ok("s3cret"));
        assert_eq!(key.decrypt(&b).as_deref(), Ok("s3cret"));
        assert_eq!(key.decrypt(&key.encrypt("")).as_deref(), Ok(""));
    }

    #[test]
    fn plaintext_passwords_stay_as_written() {
        for plain in ["", "123456", "pass@word", "AAAA", "c2VjcmV0"] {
            assert_eq!(SecretKey::dm_default().decrypt_or_plaintext(plain), plain);
        }
    }

    #[test]
    fn keys_are_64_hex_digits() {
        let custom = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let key = SecretKey::from_hex(&format!(" {custom}\n")).expect("key");
        let encrypted = key.encrypt("pw");
        assert_eq!(key.decrypt(&encrypted).as_deref(), Ok("pw"));
        assert_ne!(
            SecretKey::dm_default().decrypt(&encrypted).as_deref(),
            Ok("pw")
        );
        assert_eq!(SecretKey::from_bytes(key.bytes()).as_ref(), Ok(&key));
        // `openssl enc -aes-256-ecb -nopad -K <key>` of 16 zero bytes.
        assert_eq!(key.check_value().len(), 16);
        assert_ne!(key.check_value(), SecretKey::dm_default().check_value());
        assert_eq!(key.check_value(), key.clone().check_value());
        assert!(SecretKey::from_bytes(&[0; 31]).is_err());
        for bad in ["abc", &custom[..63], &format!("{}zz", &custom[..62])] {
            assert!(matches!(
                SecretKey::from_hex(bad),
                Err(SecretError::BadKey(_))
            ));
        }
    }

    #[test]
    fn a_key_file_is_read_and_a_bad_one_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("key.txt");
        let custom = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        std::fs::write(&good, format!("{custom}\n")).expect("write");
        assert_eq!(
            load_key_file(&good).expect("key"),
            SecretKey::from_hex(custom).expect("key")
        );
        let short = dir.path().join("short.txt");
        std::fs::write(&short, "abcd").expect("write");
        let err = load_key_file(&short).expect_err("short").to_string();
        assert!(
            err.contains("short.txt") && err.contains("64 hexadecimal"),
            "{err}"
        );
        let missing = dir.path().join("missing.txt");
        let err = load_key_file(&missing).expect_err("missing").to_string();
        assert!(
            err.contains("missing.txt") && err.contains("cannot read"),
            "{err}"
        );
    }
}
