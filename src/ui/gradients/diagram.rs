//! A compact diagram of the network: stem, the stages and their blocks (type, channels,
//! stride), the head. Each block carries its four gradient numbers as `data-*` attributes
//! (the test contract) and highlights together with its column in the chart.

use yew::prelude::*;

use crate::chart_geometry::{format_norm, stage_name, stage_spans};
use resnet_lab_protocol::BlockGradient;

#[derive(Properties, PartialEq)]
pub struct BlockDiagramProps {
    pub blocks: Vec<BlockGradient>,
    /// `basic` or `bottleneck`.
    pub block_kind: String,
    pub hovered: Option<usize>,
    pub on_hover: Callback<Option<usize>>,
}

#[function_component(BlockDiagram)]
pub fn block_diagram(props: &BlockDiagramProps) -> Html {
    let blocks = &props.blocks;
    let kind = if props.block_kind == "bottleneck" {
        "bottleneck: 1×1 → 3×3 → 1×1"
    } else {
        "basic: 3×3 → 3×3"
    };
    let block = |i: usize| {
        let b = &blocks[i];
        let enter = props.on_hover.clone();
        let leave = props.on_hover.clone();
        let title = format!(
            "{}: {} → {} channels, stride {}, {} shortcut\n‖∂z/∂x‖ {} (shortcut {}, branch {}), plain {}",
            b.block,
            b.in_channels,
            b.out_channels,
            b.stride,
            if b.projection {
                "1×1 projection"
            } else {
                "identity"
            },
            format_norm(b.grad_norm),
            format_norm(b.shortcut_norm),
            format_norm(b.residual_norm),
            format_norm(b.plain_grad_norm),
        );
        // How much of the gradient the shortcut carries, as the bar under the block.
        let share = b.shortcut_norm / (b.shortcut_norm + b.residual_norm).max(f64::MIN_POSITIVE);
        html! {
            <li class={classes!("grad-block", b.projection.then_some("projection"), (props.hovered == Some(i)).then_some("focused"))}
                data-testid="grad-block" data-block={b.block.clone()}
                data-grad-norm={b.grad_norm.to_string()} data-shortcut-norm={b.shortcut_norm.to_string()}
                data-residual-norm={b.residual_norm.to_string()} data-plain-grad-norm={b.plain_grad_norm.to_string()}
                title={title} tabindex="0"
                onmouseenter={Callback::from(move |_| enter.emit(Some(i)))}
                onmouseleave={Callback::from(move |_| leave.emit(None))}>
                <span class="block-name">{ b.block.trim_start_matches("layer") }</span>
                <span class="block-channels">{ b.out_channels }</span>
                if b.stride > 1 { <span class="block-stride">{ format!("/{}", b.stride) }</span> }
                <span class="share" style={format!("--share: {:.3}", share)}></span>
            </li>
        }
    };
    html! {
        <div class="diagram" aria-label="The network, block by block">
            <div class="diagram-row">
                <div class="diagram-end">{ "stem" }</div>
                { for stage_spans(blocks).into_iter().map(|(_, first, last)| html! {
                    <div class="diagram-stage">
                        <div class="stage-title">{ stage_name(&blocks[first]) }</div>
                        <ol class="stage-blocks">{ for (first..=last).map(block) }</ol>
                    </div>
                }) }
                <div class="diagram-end">{ "pool · fc" }</div>
            </div>
            <p class="muted small diagram-key">
                { format!("Each box is one residual block ({kind}), labelled with its output channels; ") }
                { "/2 marks a downsampling block, a thick border a projection shortcut; the bar under a box is the shortcut's share of the gradient." }
            </p>
        </div>
    }
}
