//! Volumes of runner pods: CA certificates from Secrets, and the few writable
//! directories a read-only root filesystem needs.

use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, KeyToPath, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tidemark_crd::common::SecretKeyRef;

/// Where the database CA certificate is mounted.
pub const DB_CA_PATH: &str = "/etc/tidemark/db-ca/ca.crt";
/// Where the S3 endpoint's CA bundle is mounted.
pub const S3_CA_PATH: &str = "/etc/tidemark/s3-ca/ca.crt";
/// The only writable directory of the runner container.
pub const TMP_PATH: &str = "/tmp";

/// A Secret key mounted as the single file `ca.crt` in `dir`.
pub fn secret_file(volume: &str, dir: &str, r: &SecretKeyRef) -> (Volume, VolumeMount) {
    let vol = Volume {
        name: volume.to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(r.name.clone()),
            items: Some(vec![KeyToPath {
                key: r.key.clone(),
                path: "ca.crt".to_string(),
                mode: None,
            }]),
            default_mode: Some(0o444),
            optional: Some(false),
        }),
        ..Volume::default()
    };
    let mount = VolumeMount {
        name: volume.to_string(),
        mount_path: dir.to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    (vol, mount)
}

/// A size-limited writable scratch directory.
pub fn scratch(volume: &str, path: &str, size: &str) -> (Volume, VolumeMount) {
    let vol = Volume {
        name: volume.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: None,
            size_limit: Some(Quantity(size.to_string())),
        }),
        ..Volume::default()
    };
    let mount = VolumeMount {
        name: volume.to_string(),
        mount_path: path.to_string(),
        ..VolumeMount::default()
    };
    (vol, mount)
}
