//! A folder of photos in torchvision's `ImageFolder` layout: one sub-folder per class, the
//! folder's name is the label, classes in sorted order.

use std::path::{Path, PathBuf};

use resnet_lab_core::Error;

/// Extensions read as photos (case-insensitive); other files are ignored, as `ImageFolder`
/// ignores them.
const EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "gif", "bmp"];
/// Most photos taken from one folder (features are kept in memory: 2048 floats each).
pub const MAX_PHOTOS: usize = 20_000;

/// Classes (sorted) and each photo with its class index.
pub struct ImageFolder {
    pub classes: Vec<String>,
    pub photos: Vec<(PathBuf, usize)>,
}

impl ImageFolder {
    /// Lists `dir`; refuses fewer than two classes and a class folder without photos.
    pub fn scan(dir: &Path) -> Result<Self, Error> {
        let listing = |d: &Path| -> Result<Vec<PathBuf>, Error> {
            let mut entries = std::fs::read_dir(d)
                .map_err(|e| {
                    Error::Dataset(format!("cannot read the folder {}: {e}", d.display()))
                })?
                .map(|entry| entry.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    Error::Dataset(format!("cannot read the folder {}: {e}", d.display()))
                })?;
            entries.sort();
            Ok(entries)
        };
        let class_dirs: Vec<PathBuf> = listing(dir)?
            .into_iter()
            .filter(|p| p.is_dir() && !is_hidden(p))
            .collect();
        if class_dirs.len() < 2 {
            return Err(Error::Dataset(format!(
                "{} holds {} class folder(s); a head needs at least two (one sub-folder of photos per class)",
                dir.display(),
                class_dirs.len()
            )));
        }
        let mut classes = Vec::new();
        let mut photos = Vec::new();
        for (index, class_dir) in class_dirs.iter().enumerate() {
            let name = class_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let before = photos.len();
            for file in listing(class_dir)? {
                if file.is_file() && !is_hidden(&file) && has_image_extension(&file) {
                    photos.push((file, index));
                }
                if photos.len() > MAX_PHOTOS {
                    return Err(Error::Dataset(format!(
                        "{} holds more than {MAX_PHOTOS} photos",
                        dir.display()
                    )));
                }
            }
            if photos.len() == before {
                return Err(Error::Dataset(format!(
                    "the class folder {} holds no photos ({})",
                    class_dir.display(),
                    EXTENSIONS.join(", ")
                )));
            }
            classes.push(name);
        }
        Ok(Self { classes, photos })
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}
