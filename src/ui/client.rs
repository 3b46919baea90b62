//! The page's end of the engine worker: spawns it, sends requests, routes responses into
//! the page state, and restarts it when the GPU device is lost or the worker dies.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ErrorEvent, MessageEvent, Worker};
use yew::Callback;

use crate::state::Action;
use crate::ui::engine_choice::{self, EngineBuild};
use resnet_lab_protocol::{
    BackendPreference, ClassRef, Crops, GradientNetwork, LabPhoto, Request, Response, WeightsSource,
};

/// Restarts allowed before giving up (a worker that dies at start-up would loop).
const MAX_RESTARTS: u32 = 3;

type MessageHandler = Closure<dyn FnMut(MessageEvent)>;
type ErrorHandler = Closure<dyn FnMut(ErrorEvent)>;

/// A photo sent to the engine and not yet answered: what a restarted engine is sent again.
struct PhotoInFlight {
    id: u32,
    name: String,
    file: web_sys::File,
    crops: Crops,
}

pub struct EngineClient {
    me: Weak<RefCell<EngineClient>>,
    worker: Option<Worker>,
    handlers: Option<(MessageHandler, ErrorHandler)>,
    /// Handlers of terminated workers: kept, because a worker is often replaced from inside
    /// one of its own handlers.
    retired: Vec<(MessageHandler, ErrorHandler)>,
    on_action: Callback<Action>,
    pub backend: BackendPreference,
    /// The model last asked for, to reload it after a restart.
    source: Option<WeightsSource>,
    /// Photos sent and not yet answered, oldest first (the engine answers in order).
    inflight: VecDeque<PhotoInFlight>,
    restarts: u32,
    lost: bool,
    /// The build running now (None while it is being chosen).
    build: Option<EngineBuild>,
    /// The multi-threaded engine died in this page: the single-threaded one takes over.
    threads_failed: bool,
    next_id: u32,
    /// Whether the worker's WebAssembly is running: messages sent before that are lost, so
    /// they wait in `outbox`.
    started: bool,
    outbox: Vec<(Request, Option<JsValue>)>,
    /// The gradient analysis awaiting its answer, to ask again after a restart.
    gradients_pending: Option<GradientsRequest>,
}

type GradientsRequest = (
    Option<(u32, web_sys::File)>,
    Option<ClassRef>,
    GradientNetwork,
);

pub fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}

impl EngineClient {
    pub fn new(on_action: Callback<Action>, backend: BackendPreference) -> Rc<RefCell<Self>> {
        let client = Rc::new(RefCell::new(Self {
            me: Weak::new(),
            worker: None,
            handlers: None,
            retired: Vec::new(),
            on_action,
            backend,
            source: None,
            inflight: VecDeque::new(),
            restarts: 0,
            lost: false,
            build: None,
            threads_failed: false,
            next_id: 1,
            started: false,
            outbox: Vec::new(),
            gradients_pending: None,
        }));
        client.borrow_mut().me = Rc::downgrade(&client);
        client.borrow_mut().spawn();
        client
    }

    /// Ids of gradient requests (photo ids come from the page state).
    fn next_request_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Starts a worker, once its build is chosen (that may ask the browser for a WebGPU
    /// adapter, so it is asynchronous); requests wait in `outbox` until it has started.
    fn spawn(&mut self) {
        self.worker = None;
        self.build = None;
        self.lost = false;
        self.started = false;
        self.outbox.clear();
        let (me, backend, threads_failed) = (self.me.clone(), self.backend, self.threads_failed);
        wasm_bindgen_futures::spawn_local(async move {
            let build = engine_choice::choose(backend, threads_failed).await;
            let Some(client) = me.upgrade() else { return };
            let prestarted = engine_choice::take_prestarted(build);
            let worker = match prestarted {
                Some(prestarted) => Ok(prestarted),
                None => engine_choice::start(build).map(|worker| (worker, js_sys::Array::new())),
            };
            let (worker, early) = match worker {
                Ok(started) => started,
                Err(e) => {
                    let on_action = client.borrow().on_action.clone();
                    on_action.emit(Action::Error(format!(
                        "The inference engine could not be started: {e:?}"
                    )));
                    return;
                }
            };
            client.borrow_mut().attach(build, worker.clone());
            // No borrow held: the handlers borrow the client.
            engine_choice::replay(&worker, &early);
        });
    }

    fn attach(&mut self, build: EngineBuild, worker: Worker) {
        let me = self.me.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(json) = event.data().as_string() else {
                return;
            };
            let Some(client) = me.upgrade() else { return };
            match serde_json::from_str::<Response>(&json) {
                Ok(response) => EngineClient::handle(&client, response),
                Err(e) => {
                    let on_action = client.borrow().on_action.clone();
                    on_action.emit(Action::Error(format!(
                        "unreadable message from the engine: {e}"
                    )));
                }
            }
        });
        let me = self.me.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            event.prevent_default();
            let Some(client) = me.upgrade() else { return };
            let message = event.message();
            let message = if message.is_empty() {
                "the engine stopped".to_string()
            } else {
                message
            };
            EngineClient::crashed(&client, message);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        if let Some(old) = self.handlers.replace((on_message, on_error)) {
            self.retired.push(old);
        }
        self.worker = Some(worker);
        self.build = Some(build);
    }

    fn post(&mut self, request: &Request, file: Option<&JsValue>) {
        if !self.started {
            self.outbox.push((request.clone(), file.cloned()));
            return;
        }
        let Some(worker) = &self.worker else { return };
        let message = js_sys::Object::new();
        let json = serde_json::to_string(request).unwrap_or_default();
        let _ = Reflect::set(&message, &"json".into(), &JsValue::from_str(&json));
        if let Some(file) = file {
            let _ = Reflect::set(&message, &"file".into(), file);
        }
        if let Err(e) = worker.post_message(&message) {
            self.on_action.emit(Action::Error(format!(
                "could not reach the inference engine: {e:?}"
            )));
        }
    }

    /// Loads a model (the engine picks its backend on the first load).
    pub fn load(&mut self, source: WeightsSource, name: String, selected: Option<String>) {
        self.on_action.emit(Action::Loading {
            label: source.label.clone(),
            name,
            selected,
            at: now(),
        });
        self.post(
            &Request::Load {
                backend: self.backend,
                source: source.clone(),
            },
            None,
        );
        self.source = Some(source);
    }

    pub fn classify(&mut self, id: u32, name: String, file: web_sys::File, crops: Crops) {
        self.post(
            &Request::Classify {
                id,
                name: name.clone(),
                crops,
            },
            Some(file.as_ref()),
        );
        self.inflight.push_back(PhotoInFlight {
            id,
            name,
            file,
            crops,
        });
    }

    /// Sends one webcam frame to be classified (its answer: `Response::Frame`).
    pub fn frame(&mut self, file: &web_sys::File) {
        let id = self.next_request_id();
        self.on_action.emit(Action::FrameSent(id));
        self.post(&Request::ClassifyFrame { id }, Some(file.as_ref()));
    }

    /// Asks for the gradient analysis of a photo (sent along, in case the engine no longer
    /// keeps it) or, with no photo, of noise through an initialised network.
    pub fn gradients(
        &mut self,
        photo: Option<(u32, web_sys::File)>,
        class: Option<ClassRef>,
        network: GradientNetwork,
    ) {
        let id = self.next_request_id();
        self.gradients_pending = Some((photo.clone(), class, network.clone()));
        self.on_action.emit(Action::GradientsRequested {
            id,
            photo: photo.as_ref().map(|(p, _)| *p),
            class,
            network: network.clone(),
        });
        self.post(
            &Request::Gradients {
                id,
                photo: photo.as_ref().map(|(p, _)| *p),
                class,
                network,
                backend: self.backend,
            },
            photo.as_ref().map(|(_, file)| file.as_ref()),
        );
    }

    /// Asks for the lesion study on some photos: ids and names, the `File`s beside as one
    /// array (the engine uses them only for crops it no longer keeps); with `random`, the
    /// random deletions too. Stopped like a Lab run (`LabRequest::Stop` with its id).
    pub fn lesion(
        &mut self,
        photos: Vec<(u32, String, web_sys::File)>,
        random: Option<resnet_lab_protocol::lab::RandomSettings>,
    ) {
        let id = self.next_request_id();
        self.on_action.emit(Action::LesionRequested {
            id,
            photos: photos.len(),
            random,
        });
        let files = js_sys::Array::new();
        for (_, _, file) in &photos {
            files.push(file.as_ref());
        }
        let photos = photos
            .into_iter()
            .map(|(id, name, _)| LabPhoto { id, name })
            .collect();
        self.post(
            &Request::Lesion { id, photos, random },
            Some(files.as_ref()),
        );
    }

    /// Starts, stops or resumes a long Lab run: `make` gets a new request id (the run's id
    /// for a start) and the backend asked for; returns that id.
    pub fn lab(
        &mut self,
        make: impl FnOnce(u32, BackendPreference) -> resnet_lab_protocol::LabRequest,
    ) -> u32 {
        let id = self.next_request_id();
        let request = make(id, self.backend);
        self.post(&Request::Lab(request), None);
        id
    }

    /// A request about the training's CIFAR-10 data, with the picked files as one array.
    pub fn data(&mut self, request: resnet_lab_protocol::DataRequest, files: Option<JsValue>) {
        self.post(&Request::Data(request), files.as_ref());
    }

    pub fn clear_cache(&mut self) {
        self.post(&Request::ClearCache, None);
    }

    /// A teach-mode request, with its photo or head file (or, for an augmented training,
    /// the photos' files as one array).
    pub fn teach(&mut self, request: resnet_lab_protocol::TeachRequest, file: Option<JsValue>) {
        self.post(&Request::Teach(request), file.as_ref());
    }

    pub fn lose_device(&mut self) {
        self.post(&Request::LoseDevice, None);
    }

    fn handle(client: &Rc<RefCell<Self>>, response: Response) {
        let on_action = client.borrow().on_action.clone();
        match &response {
            Response::Result { id, .. } | Response::ClassifyError { id, .. } => {
                client.borrow_mut().inflight.retain(|p| p.id != *id);
            }
            Response::Teach(resnet_lab_protocol::TeachResponse::Exported { bytes, file_name }) => {
                crate::ui::teach::save_file(bytes, file_name);
            }
            Response::Gradients { .. } | Response::GradientsError { .. } => {
                client.borrow_mut().gradients_pending = None;
            }
            Response::Started => {
                let mut c = client.borrow_mut();
                c.started = true;
                for (request, file) in std::mem::take(&mut c.outbox) {
                    c.post(&request, file.as_ref());
                }
            }
            // The threaded engine could not start its threads: the single-threaded one takes over.
            Response::ThreadsFailed { message } => {
                client.borrow_mut().threads_failed = true;
                let message = message.clone();
                let client = Rc::clone(client);
                wasm_bindgen_futures::spawn_local(async move {
                    EngineClient::restart(
                        &client,
                        format!("{message}; running on one thread instead."),
                    );
                });
            }
            Response::DeviceLost { message } => {
                let already = std::mem::replace(&mut client.borrow_mut().lost, true);
                if !already {
                    let message = message.clone();
                    // Restart outside this handler: it belongs to the worker being replaced.
                    let client = Rc::clone(client);
                    wasm_bindgen_futures::spawn_local(async move {
                        EngineClient::restart(
                            &client,
                            format!("{message}. Restarting the engine and reloading the model…"),
                        );
                    });
                }
            }
            _ => {}
        }
        on_action.emit(Action::Engine(response, now()));
    }

    /// The worker died (a trap or an uncaught error): the photo it was working on is marked
    /// failed, and the engine restarts with the model and the remaining photos.
    fn crashed(client: &Rc<RefCell<Self>>, message: String) {
        let (on_action, failed) = {
            let mut c = client.borrow_mut();
            if c.build == Some(EngineBuild::Threads) && !c.started {
                c.threads_failed = true;
            }
            (c.on_action.clone(), c.inflight.pop_front())
        };
        if let Some(PhotoInFlight { id, name, .. }) = failed {
            on_action.emit(Action::PhotoFailed {
                id,
                message: format!("the engine failed while classifying {name}: {message}"),
            });
        }
        let client = Rc::clone(client);
        wasm_bindgen_futures::spawn_local(async move {
            EngineClient::restart(
                &client,
                format!("The inference engine stopped ({message}); restarting it."),
            );
        });
    }

    pub(crate) fn restart(client: &Rc<RefCell<Self>>, reason: String) {
        // The Lab's runs die with the worker: none stays "running" (they are not re-sent).
        let on_action = client.borrow().on_action.clone();
        on_action.emit(Action::EngineRestarted);
        let mut c = client.borrow_mut();
        if let Some(worker) = c.worker.take() {
            worker.terminate();
        }
        c.restarts += 1;
        if c.restarts > MAX_RESTARTS {
            let on_action = c.on_action.clone();
            let pending: Vec<u32> = c.inflight.drain(..).map(|p| p.id).collect();
            drop(c);
            for id in pending {
                on_action.emit(Action::PhotoFailed {
                    id,
                    message: "the inference engine keeps failing; reload the page to try again"
                        .into(),
                });
            }
            on_action.emit(Action::ModelUnavailable(format!(
                "{reason} The engine failed {MAX_RESTARTS} times; giving up (reload the page to try again)."
            )));
            return;
        }
        c.on_action.emit(Action::Info(Some(reason)));
        c.spawn();
        if let Some(source) = c.source.clone() {
            let name = source.label.clone();
            c.load(source, name, None);
        }
        let pending: Vec<_> = c.inflight.drain(..).collect();
        for p in pending {
            c.classify(p.id, p.name, p.file, p.crops);
        }
        if let Some((photo, class, network)) = c.gradients_pending.take() {
            c.gradients(photo, class, network);
        }
    }
}

impl Drop for EngineClient {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.terminate();
        }
    }
}
