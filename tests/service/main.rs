//! The service's specification, as tests: the HTTP API route by route and verb by verb
//! (`routes/`), the sync engine against the OpenStack simulator over real sockets (`sync/`),
//! the listing index against SQL (`read_index`), scoped tokens' isolation against a model of
//! the catalog (`isolation`), the command line (`cli`, `cli_import`, `cli_check`) and the database set-up (`database`).
//! One test binary, so CI links once; the real Keystone and Glance are the separate
//! `conformance` binary.
mod cli;
mod cli_check;
mod cli_import;
mod common;
mod database;
mod isolation;
mod read_index;
mod routes;
mod sync;
