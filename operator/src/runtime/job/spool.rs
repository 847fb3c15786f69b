//! The parallel restore's settings in a runner Job (pure): the parallelism (explicit,
//! otherwise from the Job's CPU request) and, when it is 2 or more, the spool `emptyDir`
//! for the side archive (the archive's table of contents and its large objects), with
//! its `sizeLimit`.

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements, Volume, VolumeMount};
use tidemark_crd::contract::env as var;

use super::env::value;
use super::volumes::scratch;

/// Where the spool `emptyDir` is mounted (the root filesystem is read-only).
pub const SPOOL_PATH: &str = "/var/lib/tidemark/spool";
/// `sizeLimit` of the spool when the spec names none.
pub const DEFAULT_SPOOL_SIZE: &str = "10Gi";
/// The CRD's upper bound.
pub const MAX_PARALLELISM: u32 = 64;
/// The default's bounds: 2 connections at least; at most 8 (each is a connection to the
/// server, twice: the loading connections and `pg_restore -j`).
pub const MIN_DEFAULT: u32 = 2;
pub const MAX_DEFAULT: u32 = 8;

/// The parallelism of a restore: `explicit`, else the Job's CPU request (its limit when
/// it requests none) in whole cores rounded up, between [`MIN_DEFAULT`] and
/// [`MAX_DEFAULT`].
pub fn parallelism(explicit: Option<u32>, resources: Option<&ResourceRequirements>) -> u32 {
    if let Some(n) = explicit {
        return n.clamp(1, MAX_PARALLELISM);
    }
    let cpu = resources.and_then(|r| {
        let from = |m: &Option<
            std::collections::BTreeMap<
                String,
                k8s_openapi::apimachinery::pkg::api::resource::Quantity,
            >,
        >| {
            m.as_ref()
                .and_then(|m| m.get("cpu"))
                .and_then(|q| cores(&q.0))
        };
        from(&r.requests).or_else(|| from(&r.limits))
    });
    cpu.unwrap_or(MIN_DEFAULT).clamp(MIN_DEFAULT, MAX_DEFAULT)
}

/// Whole cores of a CPU quantity, rounded up (`500m` → 1, `1.5` → 2, `4` → 4).
fn cores(q: &str) -> Option<u32> {
    let q = q.trim();
    let cores = match q.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => q.parse::<f64>().ok()?,
    };
    (cores.is_finite() && cores > 0.0).then(|| cores.ceil().min(f64::from(u32::MAX)) as u32)
}

/// The runner's environment for `parallelism`, and the spool volume when it is 2 or
/// more and the restore is a full one (the only kind that runs in parallel).
pub fn settings(
    parallelism: u32,
    full: bool,
    size_limit: Option<&str>,
) -> (Vec<EnvVar>, Vec<(Volume, VolumeMount)>) {
    let mut env = vec![value(var::RESTORE_PARALLELISM, parallelism.to_string())];
    let mut mounts = Vec::new();
    if parallelism >= 2 && full {
        env.push(value(var::RESTORE_SPOOL_DIR, SPOOL_PATH));
        mounts.push(scratch(
            "spool",
            SPOOL_PATH,
            size_limit.unwrap_or(DEFAULT_SPOOL_SIZE),
        ));
    }
    (env, mounts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cpu(requests: Option<&str>, limits: Option<&str>) -> ResourceRequirements {
        let map = |v: Option<&str>| {
            v.map(|v| {
                [(
                    "cpu".to_string(),
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity(v.into()),
                )]
                .into_iter()
                .collect()
            })
        };
        ResourceRequirements {
            requests: map(requests),
            limits: map(limits),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_follows_the_cpu_request_and_explicit_values_are_bounded() {
        assert_eq!(parallelism(None, None), 2);
        assert_eq!(parallelism(None, Some(&cpu(Some("500m"), None))), 2);
        assert_eq!(parallelism(None, Some(&cpu(Some("3"), None))), 3);
        assert_eq!(parallelism(None, Some(&cpu(Some("2500m"), Some("8")))), 3);
        assert_eq!(parallelism(None, Some(&cpu(None, Some("4")))), 4);
        assert_eq!(parallelism(None, Some(&cpu(Some("32"), None))), MAX_DEFAULT);
        assert_eq!(parallelism(None, Some(&cpu(Some("lots"), None))), 2);
        assert_eq!(parallelism(Some(1), Some(&cpu(Some("4"), None))), 1);
        assert_eq!(parallelism(Some(6), None), 6);
        assert_eq!(parallelism(Some(0), None), 1);
        assert_eq!(parallelism(Some(1000), None), MAX_PARALLELISM);
    }

    #[test]
    fn a_parallel_full_restore_gets_the_spool() {
        let (env, mounts) = settings(3, true, None);
        let names: Vec<_> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [var::RESTORE_PARALLELISM, var::RESTORE_SPOOL_DIR]);
        assert_eq!(env[0].value.as_deref(), Some("3"));
        assert_eq!(mounts.len(), 1);
        let (vol, mount) = &mounts[0];
        assert_eq!(mount.mount_path, SPOOL_PATH);
        let size = vol.empty_dir.as_ref().unwrap().size_limit.as_ref().unwrap();
        assert_eq!(size.0, DEFAULT_SPOOL_SIZE);
        let (_, mounts) = settings(3, true, Some("50Gi"));
        let size = mounts[0].0.empty_dir.as_ref().unwrap().size_limit.clone();
        assert_eq!(size.unwrap().0, "50Gi");
        // One stream, or not a full restore: no spool.
        assert!(settings(1, true, None).1.is_empty());
        assert!(settings(4, false, None).1.is_empty());
        assert_eq!(settings(4, false, None).0.len(), 1);
    }
}
