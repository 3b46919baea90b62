//! The matrix products of the CPU path, on the `gemm` crate's kernels (AVX2/AVX-512
//! natively, WebAssembly SIMD in the browser): one unsafe call, with the strides each caller
//! needs.

/// `out[m×n] += a[m×k] · b[k×n]`, all row-major.
pub(super) fn matmul_accumulate(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    threads: gemm::Parallelism,
) {
    debug_assert!(out.len() == m * n && a.len() == m * k && b.len() == k * n);
    // b[k×n] row-major: one column to the next is 1 apart, one row to the next n.
    product((out, n), (a, k), (b, 1, n as isize), [m, k, n], threads);
}

/// `out[m×n] += a[m×k] · bᵀ`, where `b` is `[n×k]` row-major: a convolution's weight, stored
/// for the forward pass as `[depth][cout]`, read as `[cout][depth]` by the backward pass.
pub(super) fn matmul_accumulate_transposed(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    [m, k, n]: [usize; 3],
    threads: gemm::Parallelism,
) {
    debug_assert!(out.len() == m * n && a.len() == m * k && b.len() == k * n);
    // bᵀ[k×n]: one column to the next is k apart in `b`, one row to the next 1.
    product((out, n), (a, k), (b, k as isize, 1), [m, k, n], threads);
}

/// `out[m×n] += a[m×k] · b[k×n]`, `b` row-major, where row `r` of `a` starts at `r·a_rows` and
/// row `r` of `out` at `r·out_rows`: rows of a wider layout (one Winograd position of every
/// tile).
pub(super) fn matmul_accumulate_rows(
    (out, out_rows): (&mut [f32], usize),
    (a, a_rows): (&[f32], usize),
    b: &[f32],
    [m, k, n]: [usize; 3],
    threads: gemm::Parallelism,
) {
    product(
        (out, out_rows),
        (a, a_rows),
        (b, 1, n as isize),
        [m, k, n],
        threads,
    );
}

/// `out[m×n] += a[m×k] · b`: `out` and `a` given with the distance from one row to the next,
/// `b` with its column and row strides.
fn product(
    (out, out_rows): (&mut [f32], usize),
    (a, a_rows): (&[f32], usize),
    (b, b_cs, b_rs): (&[f32], isize, isize),
    [m, k, n]: [usize; 3],
    threads: gemm::Parallelism,
) {
    assert!(out_rows >= n && a_rows >= k && b.len() == k * n);
    if m == 0 {
        return;
    }
    assert!(out.len() >= (m - 1) * out_rows + n && a.len() >= (m - 1) * a_rows + k);
    // SAFETY: every row of `out` and `a` addressed, (m−1) rows apart plus one row's n or k
    // elements, lies inside its slice (asserted above), and the strides the callers give for
    // `b` address each of its k×n elements once, in bounds.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_rows as isize,
            true,
            a.as_ptr(),
            1,
            a_rows as isize,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}
