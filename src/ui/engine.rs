//! The engine as a context: one [`EngineClient`] for the page's lifetime, provided by
//! [`EngineProvider`] and reached from any component with [`use_engine`].

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::state::Action;
use crate::ui::client::EngineClient;
use resnet_lab_protocol::{BackendPreference, ClassRef, Crops, GradientNetwork, WeightsSource};

/// The page's handle on the engine worker.
#[derive(Clone)]
pub struct Engine(Rc<RefCell<EngineClient>>);

/// One engine per page: two handles are equal when they reach the same client.
impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Engine {
    /// Loads a model (the engine picks its backend on the first load).
    pub fn load(&self, source: WeightsSource, name: String, selected: Option<String>) {
        self.0.borrow_mut().load(source, name, selected);
    }

    /// Classifies a photo from the views `crops` names.
    pub fn classify(&self, id: u32, name: String, file: web_sys::File, crops: Crops) {
        self.0.borrow_mut().classify(id, name, file, crops);
    }

    /// One webcam frame to classify (the page sends the next only after its answer).
    pub fn frame(&self, file: &web_sys::File) {
        self.0.borrow_mut().frame(file);
    }

    /// The gradient analysis of a photo (sent along) or, with none, of noise.
    pub fn gradients(
        &self,
        photo: Option<(u32, web_sys::File)>,
        class: Option<ClassRef>,
        network: GradientNetwork,
    ) {
        self.0.borrow_mut().gradients(photo, class, network);
    }

    /// The lesion study on some photos of the page (id, name, file), with random deletions
    /// when `random` says.
    pub fn lesion(
        &self,
        photos: Vec<(u32, String, web_sys::File)>,
        random: Option<resnet_lab_protocol::lab::RandomSettings>,
    ) {
        self.0.borrow_mut().lesion(photos, random);
    }

    /// A long Lab run: `make` gets a new id and the backend asked for (see `EngineClient::lab`).
    pub fn lab(
        &self,
        make: impl FnOnce(u32, BackendPreference) -> resnet_lab_protocol::LabRequest,
    ) -> u32 {
        self.0.borrow_mut().lab(make)
    }

    /// A request about the training's CIFAR-10 data (`files`: the picked `File`s, as an array).
    pub fn data(&self, request: resnet_lab_protocol::DataRequest, files: Option<JsValue>) {
        self.0.borrow_mut().data(request, files);
    }

    pub fn clear_cache(&self) {
        self.0.borrow_mut().clear_cache();
    }

    /// A teach-mode request, with its photo or head file (or the photos' files as an array).
    pub fn teach(&self, request: resnet_lab_protocol::TeachRequest, file: Option<JsValue>) {
        self.0.borrow_mut().teach(request, file);
    }
}

#[derive(Properties, PartialEq)]
pub struct EngineProviderProps {
    /// Where the engine's messages go (the page state's dispatcher).
    pub on_action: Callback<Action>,
    pub backend: BackendPreference,
    #[prop_or_default]
    pub children: Html,
}

/// Starts the engine worker once and provides it to everything inside.
#[function_component(EngineProvider)]
pub fn engine_provider(props: &EngineProviderProps) -> Html {
    let engine = {
        let (on_action, backend) = (props.on_action.clone(), props.backend);
        use_memo((), move |_| {
            let client = EngineClient::new(on_action, backend);
            install_test_hooks(&client);
            Engine(client)
        })
    };
    html! {
        <ContextProvider<Engine> context={(*engine).clone()}>
            { props.children.clone() }
        </ContextProvider<Engine>>
    }
}

/// The engine, from inside an [`EngineProvider`].
#[hook]
pub fn use_engine() -> Engine {
    use_context::<Engine>().expect("use_engine is called inside <EngineProvider>")
}

/// `window.resnetLab.loseDevice()`: destroys the GPU device, to exercise recovery in tests;
/// `window.resnetLab.restartEngine()`: restarts the worker as after a crash (any backend).
fn install_test_hooks(client: &Rc<RefCell<EngineClient>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let hooks = js_sys::Object::new();
    let weak = Rc::downgrade(client);
    let lose = Closure::<dyn Fn()>::new(move || {
        if let Some(client) = weak.upgrade() {
            client.borrow_mut().lose_device();
        }
    });
    let _ = js_sys::Reflect::set(&hooks, &"loseDevice".into(), lose.as_ref());
    lose.forget();
    let weak = Rc::downgrade(client);
    let restart = Closure::<dyn Fn()>::new(move || {
        if let Some(client) = weak.upgrade() {
            EngineClient::restart(&client, "The engine was restarted (test hook).".into());
        }
    });
    let _ = js_sys::Reflect::set(&hooks, &"restartEngine".into(), restart.as_ref());
    restart.forget();
    let _ = js_sys::Reflect::set(&window, &"resnetLab".into(), &hooks);
}
