//! `dm.Master`: the API dmctl calls.

use std::sync::Arc;

use dm_proto::pb;
use dm_proto::pb::master_client::MasterClient;
use tonic::{Request, Response, Status};

use super::routed;
use super::{
    binlog, configs, diff, leader, member_config, members, schema, shard_ddl, sources, tasks,
};
use crate::node::Node;

/// The client API of one master.
#[derive(Debug, Clone)]
pub struct MasterApi {
    pub node: Arc<Node>,
}

#[tonic::async_trait]
impl pb::master_server::Master for MasterApi {
    async fn start_task(
        &self,
        request: Request<pb::StartTaskRequest>,
    ) -> Result<Response<pb::StartTaskResponse>, Status> {
        routed!(self, request, MasterClient, start_task, |req| {
            tasks::start(&self.node, req).await
        })
    }

    async fn operate_task(
        &self,
        request: Request<pb::OperateTaskRequest>,
    ) -> Result<Response<pb::OperateTaskResponse>, Status> {
        routed!(self, request, MasterClient, operate_task, |req| {
            tasks::operate(&self.node, req).await
        })
    }

    async fn query_status(
        &self,
        request: Request<pb::QueryStatusListRequest>,
    ) -> Result<Response<pb::QueryStatusListResponse>, Status> {
        routed!(self, request, MasterClient, query_status, |req| {
            tasks::query_status(&self.node, req).await
        })
    }

    async fn check_task(
        &self,
        request: Request<pb::CheckTaskRequest>,
    ) -> Result<Response<pb::CheckTaskResponse>, Status> {
        routed!(self, request, MasterClient, check_task, |req| {
            tasks::check(&self.node, req).await
        })
    }

    async fn operate_source(
        &self,
        request: Request<pb::OperateSourceRequest>,
    ) -> Result<Response<pb::OperateSourceResponse>, Status> {
        routed!(self, request, MasterClient, operate_source, |req| {
            sources::operate(&self.node, req).await
        })
    }

    async fn list_member(
        &self,
        request: Request<pb::ListMemberRequest>,
    ) -> Result<Response<pb::ListMemberResponse>, Status> {
        routed!(self, request, MasterClient, list_member, |req| {
            members::list(&self.node, req).await
        })
    }

    async fn offline_member(
        &self,
        request: Request<pb::OfflineMemberRequest>,
    ) -> Result<Response<pb::OfflineMemberResponse>, Status> {
        routed!(self, request, MasterClient, offline_member, |req| {
            members::offline(&self.node, req).await
        })
    }

    async fn transfer_source(
        &self,
        request: Request<pb::TransferSourceRequest>,
    ) -> Result<Response<pb::TransferSourceResponse>, Status> {
        routed!(self, request, MasterClient, transfer_source, |req| {
            members::transfer_source(&self.node, req).await
        })
    }

    async fn show_ddl_locks(
        &self,
        request: Request<pb::ShowDdlLocksRequest>,
    ) -> Result<Response<pb::ShowDdlLocksResponse>, Status> {
        routed!(self, request, MasterClient, show_ddl_locks, |req| {
            shard_ddl::show(&self.node, req).await
        })
    }

    async fn unlock_ddl_lock(
        &self,
        request: Request<pb::UnlockDdlLockRequest>,
    ) -> Result<Response<pb::UnlockDdlLockResponse>, Status> {
        routed!(self, request, MasterClient, unlock_ddl_lock, |req| {
            shard_ddl::unlock(&self.node, req).await
        })
    }

    async fn get_cfg(
        &self,
        request: Request<pb::GetCfgRequest>,
    ) -> Result<Response<pb::GetCfgResponse>, Status> {
        if request.get_ref().r#type == pb::CfgType::MasterType as i32 {
            let forwarded = request.metadata().contains_key(crate::node::FORWARDED);
            let name = request.into_inner().name;
            return Ok(Response::new(
                member_config::master(&self.node, &name, forwarded).await,
            ));
        }
        routed!(self, request, MasterClient, get_cfg, |req| {
            if req.r#type == pb::CfgType::WorkerType as i32 {
                member_config::worker(&self.node, &req.name).await
            } else {
                sources::get_config(&self.node, req).await
            }
        })
    }

    async fn handle_error(
        &self,
        request: Request<pb::HandleErrorRequest>,
    ) -> Result<Response<pb::HandleErrorResponse>, Status> {
        routed!(self, request, MasterClient, handle_error, |req| {
            binlog::handle(&self.node, req).await
        })
    }

    async fn operate_schema(
        &self,
        request: Request<pb::OperateSchemaRequest>,
    ) -> Result<Response<pb::OperateSchemaResponse>, Status> {
        routed!(self, request, MasterClient, operate_schema, |req| {
            schema::operate(&self.node, req).await
        })
    }

    async fn operate_leader(
        &self,
        request: Request<pb::OperateLeaderRequest>,
    ) -> Result<Response<pb::OperateLeaderResponse>, Status> {
        routed!(self, request, MasterClient, operate_leader, |req| {
            leader::operate(&self.node, req).await
        })
    }

    async fn export_configs(
        &self,
        request: Request<pb::ExportConfigsRequest>,
    ) -> Result<Response<pb::ExportConfigsResponse>, Status> {
        routed!(self, request, MasterClient, export_configs, |_req| {
            configs::export(&self.node).await
        })
    }

    async fn prepare_import(
        &self,
        request: Request<pb::PrepareImportRequest>,
    ) -> Result<Response<pb::PrepareImportResponse>, Status> {
        routed!(self, request, MasterClient, prepare_import, |req| {
            configs::prepare_import(&self.node, req).await
        })
    }

    async fn check_diff(
        &self,
        request: Request<pb::CheckDiffRequest>,
    ) -> Result<Response<pb::CheckDiffResponse>, Status> {
        // Served here, never forwarded: see `service::diff`.
        diff::check_diff(&self.node, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Status::from)
    }
}
