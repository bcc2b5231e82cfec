//! Each route is written once: its `#[utoipa::path]` says the method and the path, and
//! [`api!`](crate::api) both lists the handler in the crate's OpenAPI document and registers
//! it at what that document says. A route cannot be served without its documentation, and a
//! documented route is always served.
//!
//! ```ignore
//! platform::api! {
//!     /// The stations part of the OpenAPI document.
//!     pub struct ApiDoc { tags((name = "stations")) }
//!     pub fn routes {
//!         nearby,                        // a plain resource
//!         check_in: Kind::Creating(JSON_LIMIT), // Idempotency-Key honoured
//!     }
//! }
//! ```
//!
//! Registration follows the list's order, which matters where a literal segment and a
//! parameter compete (`/v1/stations/nearby` before `/v1/stations/{id}`). Handlers of one path
//! share one actix resource, since actix answers 405 from the first resource whose pattern
//! matches rather than trying the next.

use actix_web::http::Method;
use actix_web::web;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::OpenApi;

/// How a path's resource treats requests before its handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON bodies up to the app's default limit.
    Plain,
    /// Creates something: a retry with the same `Idempotency-Key` gets the first answer
    /// (`platform::idempotency`); bodies up to the given bytes.
    Creating(usize),
    /// JSON bodies up to the given bytes (a report with its PDF).
    LargeJson(usize),
}

/// The routes of one `fn routes`, collected from the document, then registered.
pub struct RouteTable<'d> {
    doc: &'d OpenApi,
    paths: Vec<(String, Kind, Vec<actix_web::Route>)>,
}

impl<'d> RouteTable<'d> {
    pub fn new(doc: &'d OpenApi) -> RouteTable<'d> {
        RouteTable {
            doc,
            paths: Vec::new(),
        }
    }

    /// Adds the handler whose operation id (its function name) is `operation`, at the path
    /// and method the document gives it.
    ///
    /// Panics when the document has no such operation or two handlers of one path ask for
    /// different kinds: a mistake in the table, found by every test that starts the server.
    pub fn add(&mut self, operation: &str, kind: Kind, route: actix_web::Route) {
        let (path, method) = self.find(operation);
        let route = route.method(method);
        match self.paths.iter_mut().find(|(p, _, _)| *p == path) {
            Some((_, existing, routes)) => {
                assert_eq!(*existing, kind, "the handlers of {path} differ in kind");
                routes.push(route);
            }
            None => self.paths.push((path, kind, vec![route])),
        }
    }

    fn find(&self, operation: &str) -> (String, Method) {
        for (path, item) in &self.doc.paths.paths {
            let operations = [
                (HttpMethod::Get, &item.get),
                (HttpMethod::Post, &item.post),
                (HttpMethod::Put, &item.put),
                (HttpMethod::Patch, &item.patch),
                (HttpMethod::Delete, &item.delete),
            ];
            for (method, op) in operations {
                let id = op.as_ref().and_then(|op| op.operation_id.as_deref());
                if id == Some(operation) {
                    return (path.clone(), actix_method(method));
                }
            }
        }
        panic!("{operation} is registered but has no #[utoipa::path] in the document")
    }

    /// Registers every path, in the order first added.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for (path, kind, routes) in self.paths {
            match kind {
                Kind::Plain => cfg.service(with_routes(crate::http::resource(&path), routes)),
                Kind::LargeJson(limit) => cfg.service(with_routes(
                    crate::http::resource(&path).app_data(crate::http::json_config(limit)),
                    routes,
                )),
                Kind::Creating(limit) => cfg.service(with_routes(
                    crate::idempotency::creating(&path, limit),
                    routes,
                )),
            };
        }
    }
}

/// `resource` with `routes` added (its type differs by kind: the idempotency layer wraps it).
fn with_routes<T>(
    resource: actix_web::Resource<T>,
    routes: Vec<actix_web::Route>,
) -> actix_web::Resource<T>
where
    T: actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Error = actix_web::Error,
        InitError = (),
    >,
{
    routes.into_iter().fold(resource, |r, route| r.route(route))
}

fn actix_method(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// A crate's OpenAPI document and its route tables, from one list of handlers (see the module
/// documentation). The struct's braces hold the rest of `#[openapi(...)]` (components, tags).
#[macro_export]
macro_rules! api {
    (
        $(#[$meta:meta])*
        $vis:vis struct $doc:ident { $($openapi:tt)* }
        $(
            $(#[$fmeta:meta])*
            $fvis:vis fn $routes:ident { $( $handler:ident $( : $kind:expr )? ),* $(,)? }
        )+
    ) => {
        $(#[$meta])*
        #[derive(::utoipa::OpenApi)]
        #[openapi(paths($($($handler),*),+), $($openapi)*)]
        $vis struct $doc;

        $(
            $(#[$fmeta])*
            $fvis fn $routes(cfg: &mut ::actix_web::web::ServiceConfig) {
                #[allow(unused_imports)]
                use $crate::api::Kind;
                let doc = <$doc as ::utoipa::OpenApi>::openapi();
                let mut table = $crate::api::RouteTable::new(&doc);
                $(
                    table.add(
                        stringify!($handler),
                        $crate::api!(@kind $($kind)?),
                        ::actix_web::Route::new().to($handler),
                    );
                )*
                table.register(cfg);
            }
        )+
    };
    (@kind) => { $crate::api::Kind::Plain };
    (@kind $kind:expr) => { $kind };
}

#[cfg(test)]
mod tests {
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse};

    /// A listed route.
    #[utoipa::path(get, path = "/things/{id}", responses((status = 200)))]
    async fn get_thing() -> HttpResponse {
        HttpResponse::Ok().body("get")
    }

    /// Another method on the same path.
    #[utoipa::path(delete, path = "/things/{id}", responses((status = 204)))]
    async fn delete_thing() -> HttpResponse {
        HttpResponse::NoContent().finish()
    }

    /// A literal segment listed before the parameter it competes with.
    #[utoipa::path(get, path = "/things/latest", responses((status = 200)))]
    async fn latest_thing() -> HttpResponse {
        HttpResponse::Ok().body("latest")
    }

    crate::api! {
        struct Doc { tags((name = "things")) }
        fn routes { latest_thing, get_thing, delete_thing }
    }

    #[actix_web::test]
    async fn each_handler_answers_at_the_path_and_method_its_doc_states() {
        let app = actix_test::init_service(App::new().configure(routes)).await;
        let call = |method: actix_web::http::Method, uri: &str| {
            actix_test::TestRequest::default()
                .method(method)
                .uri(uri)
                .to_request()
        };
        use actix_web::http::Method;
        let latest = actix_test::call_service(&app, call(Method::GET, "/things/latest")).await;
        assert_eq!(actix_test::read_body(latest).await, "latest");
        let got = actix_test::call_service(&app, call(Method::GET, "/things/7")).await;
        assert_eq!(actix_test::read_body(got).await, "get");
        let deleted = actix_test::call_service(&app, call(Method::DELETE, "/things/7")).await;
        assert_eq!(deleted.status(), 204);
        // Both methods share one resource: a third is refused there, not passed on.
        let put = actix_test::call_service(&app, call(Method::PUT, "/things/7")).await;
        assert_eq!(put.status(), 405);
        let doc = <Doc as utoipa::OpenApi>::openapi();
        assert_eq!(doc.paths.paths.len(), 2);
    }

    #[test]
    #[should_panic(expected = "has no #[utoipa::path]")]
    fn a_handler_missing_from_the_document_is_refused() {
        let doc = utoipa::openapi::OpenApiBuilder::new().build();
        let mut table = super::RouteTable::new(&doc);
        table.add("nowhere", super::Kind::Plain, actix_web::Route::new());
    }
}
