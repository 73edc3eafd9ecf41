//! Where listings come from. Each source produces a [`Listing`](super::listing::Listing) —
//! complete, or the changes since a cursor — and each tenant's
//! [`View`](super::listing::View) of it goes to the one reconcile:
//! - [`own`]: a tenant's own login (per-tenant mode, pulls, its delta polls);
//! - [`cloud`]: one admin listing of a whole cloud, viewed per project (cloud mode, the
//!   cloud's delta polls).
//!
//! A new source (a batch of bus notifications, say) is one new file here that builds a
//! `Listing` of what it learned, with `Extent::ChangesSince`.
pub mod cloud;
pub mod own;
