//! The backward pass against hand computation: the adjoint identity, the max pool by hand.

use super::adjoint::Adjoint;
use super::*;
use crate::model::cpu_forward::Conv;
use crate::model::cpu_test_data::{activations, value};

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// The input gradient is the convolution's adjoint: ⟨conv(x), g⟩ = ⟨x, convᵀ(g)⟩ for every
/// x and g (no bias, no ReLU), for each kernel, stride and odd or even input size a ResNet
/// has, and over band boundaries.
#[test]
fn input_gradient_is_the_adjoint_of_the_convolution() {
    for (kernel, stride, cin, cout, side) in [
        (1, 1, 5, 3, 6),
        (1, 2, 4, 6, 7),
        (3, 1, 3, 4, 5),
        (3, 2, 2, 5, 8),
        (3, 2, 3, 2, 9),
        (7, 2, 3, 4, 11),
        (3, 1, 600, 2, 40),
    ] {
        let conv = Conv {
            kernel,
            stride,
            pad: kernel / 2,
            cin,
            cout,
            weight: (0..kernel * kernel * cin * cout)
                .map(|i| value(i + 3))
                .collect(),
            bias: vec![0.0; cout],
            winograd: None,
        };
        let x = activations(2, side, side + 1, cin, 1);
        let y = conv.apply(&x, false, None);
        let g = activations(y.n, y.h, y.w, cout, 5);
        // Both ways: the flipped convolution (stride 1 only) and col2im (any stride).
        let mut ways = vec![conv.input_gradient(&g, [x.h, x.w])];
        if let flipped @ Adjoint::Flipped(_) = Adjoint::of(&conv) {
            ways.push(flipped.apply(&conv, &g, [x.h, x.w]));
        }
        assert_eq!(ways.len(), if stride == 1 { 2 } else { 1 });
        for back in ways {
            assert_eq!([back.n, back.h, back.w, back.c], [x.n, x.h, x.w, x.c]);
            let (lhs, rhs) = (dot(&y.data, &g.data), dot(&x.data, &back.data));
            assert!(
                (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
                "k{kernel} s{stride} {cin}→{cout} on {side}: {lhs} vs {rhs}"
            );
        }
    }
}

/// The max pool sends each output's gradient to its window's first maximum: by hand on a
/// 4×4 single-channel plane with a tie.
#[test]
fn max_pool_gradient_goes_to_the_first_maximum() {
    #[rustfmt::skip]
    let plane = vec![
        1.0, 5.0, 2.0, 0.0,
        3.0, 5.0, 9.0, 1.0,
        0.0, 4.0, 2.0, 8.0,
        7.0, 1.0, 3.0, 6.0,
    ];
    let x = Activations {
        n: 1,
        h: 4,
        w: 4,
        c: 1,
        data: plane,
    };
    let pooled = max_pool_3x3_s2(&x);
    // Windows (rows, cols): [0,1]×[0,1] max 5 first at (0,1); [0,1]×[1,3] max 9 at (1,2);
    // [1,3]×[0,1] max 7 at (3,0); [1,3]×[1,3] max 9 at (1,2).
    assert_eq!(pooled.data, vec![5.0, 9.0, 7.0, 9.0]);
    let g = Activations {
        n: 1,
        h: 2,
        w: 2,
        c: 1,
        data: vec![1.0, 10.0, 100.0, 1000.0],
    };
    let back = max_pool_backward(&x, &pooled, &g);
    let mut want = vec![0.0; 16];
    want[1] = 1.0;
    want[6] = 1010.0;
    want[12] = 100.0;
    assert_eq!(back.data, want);
}
