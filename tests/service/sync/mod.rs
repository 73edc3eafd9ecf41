//! The sync engine against the OpenStack simulator over real sockets, into a real database.
mod boot_from_volume;
mod cloud_listings;
mod cloud_mode;
mod credentials;
mod delta;
mod discovery;
mod error_kinds;
mod faults;
mod glance_info;
mod images;
mod instances;
mod leases_and_pulls;
mod lifecycle;
mod scripted_month;
mod staging;
mod unchanged_views;
mod volumes;
