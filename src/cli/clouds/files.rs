//! Where OpenStack's client configuration lives: openstacksdk's search for `clouds.yaml` and
//! `secure.yaml` (`openstack/config/loader.py`, `CONFIG_SEARCH_PATH`), on Linux.
//!
//! Each file is looked for on its own: the first `clouds.{yaml,yml,json}` found wins, and so
//! does the first `secure.{yaml,yml,json}`, in
//! `OS_CLIENT_CONFIG_FILE` / `OS_CLIENT_SECURE_FILE` (when set), then the current directory,
//! `$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`, each of `$XDG_CONFIG_DIRS` (default
//! `/etc/xdg`) with `/openstack`, and `/etc/openstack`. A file named on the command line
//! replaces the search for `clouds.yaml`, and its own directory is searched first for
//! `secure.yaml` (after `OS_CLIENT_SECURE_FILE`).
use std::path::{Path, PathBuf};

const SUFFIXES: [&str; 3] = [".yaml", ".yml", ".json"];

/// What the search depends on, gathered once (so tests need no environment).
#[derive(Clone, Debug, Default)]
pub struct SearchEnv {
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_config_dirs: Option<String>,
    /// `SNAP_REAL_HOME`: a snap's real home, which openstacksdk prefers to `HOME`.
    pub snap_real_home: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub secure_file: Option<PathBuf>,
}

impl SearchEnv {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Self {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: var("HOME").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            xdg_config_dirs: var("XDG_CONFIG_DIRS").and_then(|v| v.into_string().ok()),
            snap_real_home: var("SNAP_REAL_HOME").map(PathBuf::from),
            config_file: var("OS_CLIENT_CONFIG_FILE").map(PathBuf::from),
            secure_file: var("OS_CLIENT_SECURE_FILE").map(PathBuf::from),
        }
    }

    /// The directories searched, in order, without repeats.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let home = self.snap_real_home.as_ref().or(self.home.as_ref());
        let mut dirs = vec![self.cwd.clone()];
        // platformdirs ignores a relative XDG_CONFIG_HOME, as the XDG spec says.
        match self.xdg_config_home.as_ref().filter(|p| p.is_absolute()) {
            Some(x) => dirs.push(x.join("openstack")),
            None => dirs.extend(home.map(|h| h.join(".config").join("openstack"))),
        }
        dirs.extend(home.map(|h| h.join(".config").join("openstack")));
        let site = self.xdg_config_dirs.as_deref().unwrap_or("/etc/xdg");
        dirs.extend(
            site.split(':')
                .filter(|d| Path::new(d).is_absolute())
                .map(|d| Path::new(d).join("openstack")),
        );
        dirs.push(PathBuf::from("/etc/openstack"));
        let mut seen = Vec::new();
        dirs.retain(|d| {
            let fresh = !seen.contains(d);
            seen.push(d.clone());
            fresh
        });
        dirs
    }

    /// Where `clouds.yaml` is looked for, in order.
    pub fn clouds_candidates(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.config_file.iter().cloned().collect();
        out.extend(named_in(&self.dirs(), "clouds"));
        out
    }

    /// Where `secure.yaml` is looked for, in order; `beside` is a clouds file named on the
    /// command line, whose directory comes first.
    pub fn secure_candidates(&self, beside: Option<&Path>) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = beside
            .and_then(Path::parent)
            .map(|p| {
                if p.as_os_str().is_empty() {
                    self.cwd.clone()
                } else {
                    p.to_path_buf()
                }
            })
            .into_iter()
            .collect();
        for d in self.dirs() {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        let mut out: Vec<PathBuf> = self.secure_file.iter().cloned().collect();
        out.extend(named_in(&dirs, "secure"));
        out
    }
}

fn named_in(dirs: &[PathBuf], stem: &str) -> Vec<PathBuf> {
    dirs.iter()
        .flat_map(|d| SUFFIXES.iter().map(move |s| d.join(format!("{stem}{s}"))))
        .collect()
}

/// The first candidate that is a file.
pub fn first_file(candidates: &[PathBuf]) -> Option<PathBuf> {
    candidates.iter().find(|p| p.is_file()).cloned()
}

/// `~/…` expanded with the home directory (openstacksdk's `expanduser` on certificate paths).
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> SearchEnv {
        SearchEnv {
            cwd: "/work".into(),
            home: Some("/home/op".into()),
            ..Default::default()
        }
    }

    #[test]
    fn search_order_is_openstacksdks() {
        let dirs = env().dirs();
        let want: Vec<PathBuf> = [
            "/work",
            "/home/op/.config/openstack",
            "/etc/xdg/openstack",
            "/etc/openstack",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, want);
        let clouds = env().clouds_candidates();
        assert_eq!(clouds[0], PathBuf::from("/work/clouds.yaml"));
        assert_eq!(clouds[1], PathBuf::from("/work/clouds.yml"));
        assert_eq!(clouds[2], PathBuf::from("/work/clouds.json"));
        assert_eq!(
            clouds[3],
            PathBuf::from("/home/op/.config/openstack/clouds.yaml")
        );
        assert_eq!(
            clouds.last().unwrap(),
            &PathBuf::from("/etc/openstack/clouds.json")
        );
    }

    #[test]
    fn environment_overrides_come_first() {
        let e = SearchEnv {
            config_file: Some("/x/my-clouds.yaml".into()),
            secure_file: Some("/x/my-secure.yaml".into()),
            xdg_config_home: Some("/cfg".into()),
            xdg_config_dirs: Some("/site1:/site2".into()),
            ..env()
        };
        assert_eq!(e.clouds_candidates()[0], PathBuf::from("/x/my-clouds.yaml"));
        assert_eq!(
            e.secure_candidates(None)[0],
            PathBuf::from("/x/my-secure.yaml")
        );
        let dirs = e.dirs();
        assert_eq!(dirs[1], PathBuf::from("/cfg/openstack"));
        assert_eq!(dirs[2], PathBuf::from("/home/op/.config/openstack"));
        assert_eq!(dirs[3], PathBuf::from("/site1/openstack"));
        assert_eq!(dirs[4], PathBuf::from("/site2/openstack"));
    }

    #[test]
    fn a_named_file_has_its_secure_yaml_looked_for_beside_it_first() {
        let s = env().secure_candidates(Some(Path::new("/ops/clouds.yaml")));
        assert_eq!(s[0], PathBuf::from("/ops/secure.yaml"));
        assert_eq!(s[3], PathBuf::from("/work/secure.yaml"));
        let relative = env().secure_candidates(Some(Path::new("clouds.yaml")));
        assert_eq!(relative[0], PathBuf::from("/work/secure.yaml"));
        assert_eq!(
            relative.iter().filter(|p| p.starts_with("/work")).count(),
            3,
            "the current directory is not searched twice"
        );
    }

    #[test]
    fn home_is_expanded_in_certificate_paths() {
        let home = Path::new("/home/op");
        assert_eq!(
            expand_home("~/ca.pem", Some(home)),
            PathBuf::from("/home/op/ca.pem")
        );
        assert_eq!(
            expand_home("/etc/ca.pem", Some(home)),
            PathBuf::from("/etc/ca.pem")
        );
        assert_eq!(expand_home("ca.pem", Some(home)), PathBuf::from("ca.pem"));
    }
}
