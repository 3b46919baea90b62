//! Photo intake (the drop zone) and the result cards, one per photo.

use yew::prelude::*;

use super::{selected_value, take_files};
use crate::state::{Photo, PhotoState};
use resnet_lab_protocol::{BackendKind, Crops, PredictionRow, Timings, format_ms};

#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    pub on_files: Callback<Vec<web_sys::File>>,
    pub dragging: bool,
    /// The views new photos are classified from, and where a change goes.
    pub crops: Crops,
    pub on_crops: Callback<Crops>,
    /// Other ways in, shown under the picker (the webcam).
    #[prop_or_default]
    pub children: Children,
}

/// Where photos come in: the picker here; dropping anywhere and pasting are handled by
/// the page.
#[function_component(DropZone)]
pub fn drop_zone(props: &DropZoneProps) -> Html {
    let on_change = {
        let cb = props.on_files.clone();
        Callback::from(move |e: Event| {
            let files = take_files(&e);
            if !files.is_empty() {
                cb.emit(files);
            }
        })
    };
    html! {
        <section class={classes!("drop-zone", props.dragging.then_some("dragging"))}>
            <div class="drop-icon" aria-hidden="true">
                <svg viewBox="0 0 24 24" width="40" height="40"><path fill="currentColor" d="M19 7v2.99s-1.99.01-2 0V7h-3s.01-1.99 0-2h3V2h2v3h3v2h-3zm-3 4V8h-3V5H5c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h12c1.1 0 2-.9 2-2v-8h-3zM5 19l3-4 2 3 3-4 4 5H5z"/></svg>
            </div>
            <div class="drop-text">
                <strong>{ "Drop photos anywhere" }</strong>
                <span>{ ", paste them, or " }</span>
                <label class="link-button">
                    { "choose files" }
                    <input type="file" class="visually-hidden" data-testid="image-input" multiple=true accept="image/*" onchange={on_change} />
                </label>
            </div>
            <div class="muted small">{ "JPEG, PNG, WebP, GIF, AVIF… anything this browser can show. Photos never leave your machine." }</div>
            <CropsChoice crops={props.crops} on_crops={props.on_crops.clone()} />
            { props.children.clone() }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CropsChoiceProps {
    crops: Crops,
    on_crops: Callback<Crops>,
}

/// Which views of a new photo are classified: the centre crop, torchvision's ten crops, or
/// the whole image (the guide's "10-crop testing").
#[function_component(CropsChoice)]
fn crops_choice(props: &CropsChoiceProps) -> Html {
    let on_change = {
        let cb = props.on_crops.clone();
        Callback::from(move |e: Event| {
            if let Some(crops) = selected_value(&e).as_deref().and_then(Crops::parse) {
                cb.emit(crops);
            }
        })
    };
    let option = |crops: Crops, text: &'static str| {
        html! { <option value={crops.name()} selected={props.crops == crops}>{ text }</option> }
    };
    html! {
        <label class="crops-choice small" title="Ten crops: the four corners and the centre of the 256-pixel resize, and their mirror images; the probabilities are averaged (10 forward passes). Whole image: no crop, the network sees all of it at 256 pixels on the short side. Applies to photos added from now on.">
            { "Classify from " }
            <select data-testid="crops" onchange={on_change}>
                { option(Crops::Center, "the centre crop (224×224)") }
                { option(Crops::Ten, "ten crops, averaged") }
                { option(Crops::Full, "the whole image") }
            </select>
        </label>
    }
}

#[derive(Properties, PartialEq)]
pub struct PredictionBarProps {
    pub rank: usize,
    pub row: PredictionRow,
    /// A class the person taught (Teach mode), named rather than numbered.
    #[prop_or_default]
    pub taught: bool,
    /// The test contract's name, when not a photo card's (`prediction`, `custom-prediction`).
    #[prop_or_default]
    pub testid: Option<AttrValue>,
}

/// One class of a top-5 list (or of the taught classes), with its probability bar.
#[function_component(PredictionBar)]
pub fn prediction_bar(props: &PredictionBarProps) -> Html {
    let p = &props.row;
    let pct = (p.prob as f64 * 100.0).clamp(0.0, 100.0);
    html! {
        <li class={classes!("prediction", (props.rank == 0).then_some("top"))}
            data-testid={props.testid.clone().unwrap_or(if props.taught { "custom-prediction" } else { "prediction" }.into())}
            data-index={(!props.taught).then(|| p.index.to_string())}
            data-label={(!props.taught).then(|| p.label.clone())}
            data-class={props.taught.then(|| p.label.clone())}
            data-prob={p.prob.to_string()}>
            <div class="prediction-head">
                <span class="label">{ p.label.clone() }</span>
                <span class="prob">{ format!("{pct:.1}%") }</span>
            </div>
            <div class="bar"><div class="fill" style={format!("width: {pct:.2}%")}></div></div>
        </li>
    }
}

fn timings_line(t: &Timings, backend: Option<BackendKind>) -> Html {
    html! {
        <div class="timings" data-testid="timings"
             data-preprocess-ms={format!("{:.1}", t.preprocess_ms)}
             data-inference-ms={format!("{:.1}", t.inference_ms)}
             data-readback-ms={format!("{:.1}", t.readback_ms)}
             data-decode-ms={format!("{:.1}", t.decode_ms)} data-batch={t.batch.to_string()}>
            <span title="decoding by the browser">{ format!("decode {}", format_ms(t.decode_ms)) }</span>
            <span title="resize 256, crop, normalise">{ format!("preprocess {}", format_ms(t.preprocess_ms)) }</span>
            if t.batch > 1 {
                <span title="photos dropped together share one forward pass; this is its share">
                    { format!("inference {} (1/{} of a batch)", format_ms(t.inference_ms), t.batch) }</span>
            } else {
                <span title="forward pass">{ format!("inference {}", format_ms(t.inference_ms)) }</span>
            }
            <span title="reading the logits back">{ format!("read-back {}", format_ms(t.readback_ms)) }</span>
            <span class={classes!("badge", "small-badge", backend.map(|b| format!("badge-{}", b.as_str())))}>
                { backend.map(|b| b.as_str()).unwrap_or("") }
            </span>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ResultCardProps {
    pub photo: Photo,
    /// Whether the gradient panel explains this photo.
    pub explained: bool,
    pub on_explain: Callback<u32>,
}

/// One photo: the picture, its top-5 and its timings.
#[function_component(ResultCard)]
pub fn result_card(props: &ResultCardProps) -> Html {
    let p = &props.photo;
    let picture = if p.state == PhotoState::Error {
        html! { <div class="thumb placeholder" aria-hidden="true">{ "✕" }</div> }
    } else {
        html! { <img class="thumb" src={p.url.clone()} alt={p.name.clone()} loading="lazy" /> }
    };
    let body = match p.state {
        PhotoState::Pending => {
            html! { <div class="pending"><span class="spinner"></span>{ "Classifying…" }</div> }
        }
        PhotoState::Error => html! {
            <div class="card-error" data-testid="result-error" role="alert">{ p.error.clone().unwrap_or_default() }</div>
        },
        PhotoState::Done => html! {
            <>
                <ol class="predictions">
                    { for p.top.iter().enumerate().map(|(rank, row)| html! { <PredictionBar rank={rank} row={row.clone()} /> }) }
                </ol>
                <crate::ui::teach::custom::CustomPredictions rows={p.custom.clone()} />
                { for p.timings.as_ref().map(|t| timings_line(t, p.backend)) }
                if props.explained {
                    <span class="explained small">{ "↓ explained in the gradient panel" }</span>
                } else {
                    <button class="button ghost small explain" data-testid="explain"
                            onclick={ let (cb, id) = (props.on_explain.clone(), p.id); Callback::from(move |_| cb.emit(id)) }>
                        { "Explain the gradients ↓" }
                    </button>
                }
            </>
        },
    };
    let size = p.size.map(|(w, h)| format!("{w}×{h}")).unwrap_or_default();
    // Which views the probabilities come from, once classified.
    let crops = p.crops.map(|c| {
        html! {
            <span class="crops-used muted small" data-testid="crops-used">{ c.describe() }</span>
        }
    });
    html! {
        <article class={classes!("result-card", p.state.as_str())} data-testid="result" data-image={p.name.clone()}
                 data-state={p.state.as_str()} data-crops={p.crops.map(Crops::name)}>
            <div class="picture">{ picture }</div>
            <div class="card-body">
                <header class="card-title"><span class="name" title={p.name.clone()}>{ p.name.clone() }</span><span class="muted small">{ size }</span>{ for crops }</header>
                { body }
            </div>
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct ResultsGalleryProps {
    pub photos: Vec<Photo>,
    pub on_clear: Callback<()>,
    /// The photo the gradient panel explains.
    pub explained: Option<u32>,
    pub on_explain: Callback<u32>,
}

/// Every photo, newest first.
#[function_component(ResultsGallery)]
pub fn results_gallery(props: &ResultsGalleryProps) -> Html {
    if props.photos.is_empty() {
        return html! {};
    }
    let on_clear = {
        let cb = props.on_clear.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let done = props
        .photos
        .iter()
        .filter(|p| p.state != PhotoState::Pending)
        .count();
    html! {
        <section class="results">
            <div class="results-head">
                <h2>{ format!("Results ({done}/{})", props.photos.len()) }</h2>
                <button class="button ghost" onclick={on_clear}>{ "Clear finished" }</button>
            </div>
            <div class="gallery">
                { for props.photos.iter().map(|photo| html! {
                    <ResultCard key={photo.id} photo={photo.clone()} explained={props.explained == Some(photo.id)}
                                on_explain={props.on_explain.clone()} />
                }) }
            </div>
        </section>
    }
}
