//! Gradient flow (see the gradient panel issue).
