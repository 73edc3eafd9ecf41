//! Request parameters as types. [`Path<Uuid>`] is the `{uuid}` of an object's path (a
//! malformed one is 404, as an unknown one is). A [`QueryParams`] type reads a set of query
//! parameters from the raw query string (so repeated keys are all seen) and also documents
//! them: [`Documented`] adds each operation's parameters to the OpenAPI document, so the spec
//! and the parser cannot drift apart.
use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaApi, MetaOperationParam, MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, OpenApi};
use uuid::Uuid;

use super::errors::{ApiError, ErrorResponse};
use super::query::RawQuery;
use crate::catalog::parse_uuid;

/// A path parameter. (poem-openapi routes a parameter by position when its type is named
/// `Path`, hence the name.)
pub struct Path<T>(pub T);

/// The uuid in an object's path, as 32 hex digits or hyphenated.
impl<'a> ApiExtractor<'a> for Path<Uuid> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = true;
    type ParamType = String;
    type ParamRawType = String;

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Path)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(String::schema_ref())
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        req.raw_path_param(opts.name)
            .and_then(parse_uuid)
            .map(Path)
            .ok_or_else(|| ErrorResponse::from(ApiError::NotFound).into())
    }
}

/// One query parameter as the spec shows it (every one is an optional string on the wire).
pub struct ParamDoc {
    pub name: &'static str,
    pub description: Option<&'static str>,
}

/// A shorthand for a `ParamDoc` list: `params![name: "doc", page]`.
#[macro_export]
macro_rules! params {
    ($($name:ident $(: $doc:literal)?),* $(,)?) => {
        &[$($crate::api::params::ParamDoc {
            name: stringify!($name),
            description: $crate::params!(@doc $($doc)?),
        }),*]
    };
    (@doc $doc:literal) => { Some($doc) };
    (@doc) => { None };
}

/// The `page` and `page_size` parameters of every list.
pub const PAGE_PARAMS: &[ParamDoc] = params![
    page: "1-based page number, or `last`.",
    page_size: "Items per page (default 10, at most 300).",
];

impl ParamDoc {
    fn meta(&self) -> MetaOperationParam {
        MetaOperationParam {
            name: self.name.to_string(),
            schema: <Option<String> as Type>::schema_ref(),
            in_type: MetaParamIn::Query,
            description: self.description.map(str::to_string),
            required: false,
            deprecated: false,
            explode: true,
            style: None,
        }
    }
}

/// A set of query parameters that one type both parses and documents.
pub trait QueryParams: Sized + Send {
    /// The parameters, in the order the spec lists them.
    const PARAMS: &'static [&'static [ParamDoc]];

    fn parse(query: &RawQuery) -> Result<Self, ApiError>;
}

/// The extractor of a [`QueryParams`] type (400 with field errors when it does not parse).
pub struct Params<T>(pub T);

impl<'a, T: QueryParams> FromRequest<'a> for Params<T> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        T::parse(&RawQuery::of(req))
            .map(Params)
            .map_err(|e| ErrorResponse::from(e).into())
    }
}

/// Which operations of an API take which [`QueryParams`] (by operation id).
pub trait QueryDocs {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])];
}

/// An API whose operations' query parameters are added to the spec from their types.
pub struct Documented<A>(pub A);

impl<A: OpenApi + QueryDocs> OpenApi for Documented<A> {
    fn meta() -> Vec<MetaApi> {
        let mut metas = A::meta();
        let operations = metas
            .iter_mut()
            .flat_map(|api| api.paths.iter_mut())
            .flat_map(|path| path.operations.iter_mut());
        for op in operations {
            let docs = A::QUERIES
                .iter()
                .find(|(id, _)| op.operation_id == Some(*id));
            if let Some((_, groups)) = docs {
                op.params
                    .extend(groups.iter().flat_map(|g| g.iter()).map(ParamDoc::meta));
            }
        }
        metas
    }

    fn register(registry: &mut Registry) {
        A::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}
