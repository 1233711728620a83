//! OCI images: sources, digests, layer unpacking, the layer store, and image config to
//! runtime spec. See docs/images.md.

pub mod digest;
pub mod error;
pub mod layer;

pub use digest::Digest;
pub use error::ImageError;
pub mod manifest;
pub mod reference;
pub mod source;

pub use reference::ImageRef;
pub mod progress;
pub mod store;

pub use store::{Image, PreparedRoot, PullOptions, RootMode, Store};
pub mod spec;

/// The image config type (`oci_spec::image::ImageConfiguration`).
pub type ImageConfig = oci_spec::image::ImageConfiguration;
pub use spec::{SpecOverrides, config_to_spec, stop_signal};
