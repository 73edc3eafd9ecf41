//! `/api/openstack-images/{uuid}/metadata/`: an image's extra Glance properties in the shapes
//! of Nova's image-metadata API, read-only. The census never writes upstream: the verbs that
//! would change metadata answer 405 saying so.
use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::auth::Caller;
use super::errors::{Detail, ErrorResponse, NOT_FOUND};
use super::params::Path;
use super::{ApiTags, AppState};

pub struct ImageMetadataApi;

/// Nova's `GET /images/{id}/metadata`.
#[derive(Object)]
#[oai(rename = "ImageMetadata")]
pub struct ImageMetadata {
    pub metadata: BTreeMap<String, String>,
}

/// Nova's `GET /images/{id}/metadata/{key}`.
#[derive(Object)]
#[oai(rename = "ImageMetadataItem")]
pub struct ImageMetadataItem {
    pub meta: BTreeMap<String, String>,
}

const READ_ONLY: &str = "The census is read-only: image metadata is changed in Glance, not here.";

/// What a write to metadata gets (whatever the uuid or key: the path's segments are taken as
/// text, `param::Path` so that poem-openapi routes them by position).
#[derive(ApiResponse)]
pub enum ReadOnly {
    /// The census never writes upstream.
    #[oai(status = 405)]
    MethodNotAllowed(Json<Detail>, #[oai(header = "Allow")] String),
}

fn read_only() -> ReadOnly {
    ReadOnly::MethodNotAllowed(Detail::json(READ_ONLY), "GET, HEAD".into())
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::OpenstackImages")]
impl ImageMetadataApi {
    /// Every extra Glance property of the image (Nova's image-metadata shape); values that
    /// are not strings in Glance come as JSON text.
    #[oai(
        path = "/openstack-images/:uuid/metadata/",
        method = "get",
        operation_id = "openstack_images_metadata_list"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
    ) -> Result<Json<ImageMetadata>, ErrorResponse> {
        let metadata = state
            .catalog
            .images()
            .metadata(&caller.scope(), uuid.0)
            .await?;
        Ok(Json(ImageMetadata { metadata }))
    }

    /// One extra property; 404 when the image has no such key.
    #[oai(
        path = "/openstack-images/:uuid/metadata/:key/",
        method = "get",
        operation_id = "openstack_images_metadata_retrieve"
    )]
    async fn retrieve(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        uuid: Path<Uuid>,
        key: param::Path<String>,
    ) -> Result<Json<ImageMetadataItem>, ErrorResponse> {
        let mut metadata = state
            .catalog
            .images()
            .metadata(&caller.scope(), uuid.0)
            .await?;
        let value = metadata
            .remove(&key.0)
            .ok_or_else(|| ErrorResponse::NotFound(Detail::json(NOT_FOUND)))?;
        Ok(Json(ImageMetadataItem {
            meta: BTreeMap::from([(key.0, value)]),
        }))
    }

    /// Not here: metadata is changed in Glance.
    #[oai(
        path = "/openstack-images/:uuid/metadata/",
        method = "post",
        operation_id = "openstack_images_metadata_create"
    )]
    async fn create(
        &self,
        _caller: Caller,
        uuid: param::Path<String>,
    ) -> Result<ReadOnly, ErrorResponse> {
        let _ = uuid;
        Ok(read_only())
    }

    /// Not here: metadata is changed in Glance.
    #[oai(
        path = "/openstack-images/:uuid/metadata/",
        method = "put",
        operation_id = "openstack_images_metadata_update"
    )]
    async fn replace(
        &self,
        _caller: Caller,
        uuid: param::Path<String>,
    ) -> Result<ReadOnly, ErrorResponse> {
        let _ = uuid;
        Ok(read_only())
    }

    /// Not here: metadata is changed in Glance.
    #[oai(
        path = "/openstack-images/:uuid/metadata/:key/",
        method = "put",
        operation_id = "openstack_images_metadata_item_update"
    )]
    async fn set(
        &self,
        _caller: Caller,
        uuid: param::Path<String>,
        key: param::Path<String>,
    ) -> Result<ReadOnly, ErrorResponse> {
        let _ = (uuid, key);
        Ok(read_only())
    }

    /// Not here: metadata is changed in Glance.
    #[oai(
        path = "/openstack-images/:uuid/metadata/:key/",
        method = "delete",
        operation_id = "openstack_images_metadata_destroy"
    )]
    async fn delete(
        &self,
        _caller: Caller,
        uuid: param::Path<String>,
        key: param::Path<String>,
    ) -> Result<ReadOnly, ErrorResponse> {
        let _ = (uuid, key);
        Ok(read_only())
    }
}
