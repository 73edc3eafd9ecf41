//! What the OpenAPI document must say beyond the handlers' own types: the answers given
//! before a handler runs ([`BeforeHandler`]), declared on exactly the operations that can get
//! them, so that generated clients know every status the server sends and its body.
use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::registry::{MetaApi, MetaOperation, MetaResponse, Registry};
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::BeforeHandler;

/// The APIs, with the guard's, the framework's and the connection's answers added to each
/// operation's responses.
pub struct BeforeHandlers<A>(pub A);

impl<A: OpenApi> OpenApi for BeforeHandlers<A> {
    fn meta() -> Vec<MetaApi> {
        let mut metas = A::meta();
        let operations = metas
            .iter_mut()
            .flat_map(|api| api.paths.iter_mut())
            .flat_map(|path| path.operations.iter_mut());
        for op in operations {
            let answers = BeforeHandler::meta().responses;
            for answer in answers {
                let declared = op
                    .responses
                    .responses
                    .iter()
                    .any(|r| r.status == answer.status);
                if !declared && can_get(op, &answer) {
                    op.responses.responses.push(answer);
                }
            }
            op.responses.responses.sort_by_key(|r| r.status);
        }
        metas
    }

    fn register(registry: &mut Registry) {
        A::register(registry);
        BeforeHandler::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

/// Whether `op` can be answered with `answer`: the body limit applies to the methods whose
/// body the guard reads, the media type to operations that take a JSON body; a malformed or
/// oversized request line or header block can reach any operation.
fn can_get(op: &MetaOperation, answer: &MetaResponse) -> bool {
    match answer.status {
        Some(413) => matches!(op.method, Method::POST | Method::PUT | Method::PATCH),
        Some(415) => op.request.is_some(),
        _ => true,
    }
}
