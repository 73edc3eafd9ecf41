//! Which image a server counts for. A server booted from an image names it; a server booted
//! from a volume (Nova's `"image": ""`) counts for the image its boot volume was made from
//! (Cinder's `volume_image_metadata`). The boot volume is the attached bootable volume on the
//! server's root device, else the only attached bootable one.
use std::collections::HashMap;

use crate::openstack::cinder::CinderVolume;
use crate::openstack::nova::NovaServer;

/// A bootable volume attached to a server, as attribution needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct BootVolume {
    pub id: String,
    pub image_id: Option<String>,
    pub image_name: Option<String>,
    /// GiB, as Cinder sent it.
    pub size_gib: Option<i64>,
    device: Option<String>,
}

/// The project's bootable volumes, by the server they are attached to.
#[derive(Debug, Default)]
pub struct BootVolumes {
    by_server: HashMap<String, Vec<BootVolume>>,
}

/// Root devices of the usual disk buses, for servers whose root device Nova does not show
/// (`OS-EXT-SRV-ATTR:root_device_name` is admin-only by default).
const ROOT_DEVICES: [&str; 4] = ["vda", "sda", "xvda", "hda"];

impl BootVolumes {
    pub fn new<'a>(volumes: impl IntoIterator<Item = &'a CinderVolume>) -> Self {
        let mut by_server: HashMap<String, Vec<BootVolume>> = HashMap::new();
        for volume in volumes.into_iter().filter(|v| v.bootable) {
            for attachment in &volume.attachments {
                by_server
                    .entry(attachment.server_id.clone())
                    .or_default()
                    .push(BootVolume {
                        id: volume.id.clone(),
                        image_id: volume.image_id.clone(),
                        image_name: volume.image_name.clone(),
                        size_gib: volume.size_gib,
                        device: attachment.device.clone(),
                    });
            }
        }
        Self { by_server }
    }

    /// The volume `server` booted from, when it booted from one and it can be told.
    pub fn of(&self, server: &NovaServer) -> Option<&BootVolume> {
        if server.image_id.is_some() {
            return None;
        }
        let attached = self.by_server.get(&server.id)?;
        let on_root = |v: &&BootVolume| {
            v.device
                .as_deref()
                .is_some_and(|d| is_root_device(d, server.root_device.as_deref()))
        };
        attached.iter().find(on_root).or(match attached.as_slice() {
            [only] => Some(only),
            _ => None,
        })
    }
}

fn is_root_device(device: &str, root: Option<&str>) -> bool {
    match root {
        Some(root) => device == root,
        None => ROOT_DEVICES.contains(&device.trim_start_matches("/dev/")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::cinder::VolumeAttachment;

    fn volume(id: &str, bootable: bool, image: &str, on: &[(&str, &str)]) -> CinderVolume {
        CinderVolume {
            id: id.into(),
            status: "in-use".into(),
            size_gib: Some(10),
            bootable,
            image_id: Some(format!("img-{image}")),
            image_name: Some(image.into()),
            attachments: on
                .iter()
                .map(|(server, device)| VolumeAttachment {
                    server_id: server.to_string(),
                    device: Some(device.to_string()),
                })
                .collect(),
            tenant_id: None,
        }
    }

    fn server(id: &str, root: Option<&str>) -> NovaServer {
        NovaServer {
            id: id.into(),
            name: id.into(),
            status: "ACTIVE".into(),
            image_id: None,
            created: None,
            flavor: Default::default(),
            launched_at: None,
            terminated_at: None,
            updated: None,
            vm_state: None,
            volume_ids: Vec::new(),
            root_device: root.map(str::to_string),
            tenant_id: None,
        }
    }

    #[test]
    fn the_root_bootable_volume_wins_else_the_only_one() {
        let volumes = BootVolumes::new(&[
            volume("data", true, "other", &[("a", "/dev/vdb")]),
            volume("root", true, "ubuntu", &[("a", "/dev/vda")]),
            volume("plain", false, "x", &[("b", "/dev/vda")]),
            volume("only", true, "debian", &[("b", "/dev/vdc")]),
            volume("c1", true, "one", &[("c", "/dev/vdb")]),
            volume("c2", true, "two", &[("c", "/dev/vdc")]),
            volume("sd", true, "rocky", &[("d", "/dev/sdb")]),
        ]);
        let id = |s: &NovaServer| volumes.of(s).map(|v| v.id.clone());
        assert_eq!(id(&server("a", None)).as_deref(), Some("root"));
        assert_eq!(id(&server("b", None)).as_deref(), Some("only"));
        assert_eq!(id(&server("c", None)), None, "two candidates, none on root");
        assert_eq!(id(&server("d", Some("/dev/sdb"))).as_deref(), Some("sd"));
        assert_eq!(id(&server("z", None)), None);
        let mut from_image = server("a", None);
        from_image.image_id = Some("img".into());
        assert_eq!(volumes.of(&from_image), None);
    }
}
