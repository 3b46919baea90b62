//! The browser side of the photos in [`crate::state`]: each photo's `File` (sent to the
//! engine again after a restart, or along with a gradient request) and the `blob:` URL of
//! its thumbnail, by photo id.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gloo::file::ObjectUrl;
use yew::prelude::*;

use crate::state::Photo;

#[derive(Default)]
pub struct PhotoFiles {
    by_id: HashMap<u32, (web_sys::File, ObjectUrl)>,
}

impl PhotoFiles {
    /// Keeps `file` as photo `id`; returns the `blob:` URL of its thumbnail.
    pub fn add(&mut self, id: u32, file: web_sys::File) -> String {
        let url = ObjectUrl::from(gloo::file::File::from(file.clone()));
        let text = url.to_string();
        self.by_id.insert(id, (file, url));
        text
    }

    pub fn file(&self, id: u32) -> Option<web_sys::File> {
        self.by_id.get(&id).map(|(file, _)| file.clone())
    }

    /// Forgets the photos not in `ids`, revoking their `blob:` URLs.
    fn keep_only(&mut self, ids: &[u32]) {
        self.by_id.retain(|id, _| ids.contains(id));
    }
}

/// The page's photo files, pruned whenever photos leave the state.
#[hook]
pub fn use_photo_files(photos: &[Photo]) -> Rc<RefCell<PhotoFiles>> {
    let files = use_mut_ref(PhotoFiles::default);
    {
        let files = files.clone();
        let ids: Vec<u32> = photos.iter().map(|p| p.id).collect();
        use_effect_with(ids, move |ids| files.borrow_mut().keep_only(ids));
    }
    files
}
