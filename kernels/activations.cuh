// Activation codes and element-wise derivatives shared by every kernel.
// The codes are the ones of fastnet/backends/loop_kernels.py.
#pragma once

#ifndef REAL
#define REAL double
#endif

#define FASTNET_IDENTITY 0
#define FASTNET_SIGMOID 1
#define FASTNET_TANH 2
#define FASTNET_RELU 3

// f(z). Sigmoid via exp(-|z|) so it never overflows, for either sign of z.
__device__ __forceinline__ REAL fastnet_activate(REAL z, int kind) {
    switch (kind) {
    case FASTNET_SIGMOID: {
        REAL e = exp(-fabs(z));
        return z >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
    case FASTNET_TANH: return tanh(z);
    case FASTNET_RELU: return z > 0 ? z : 0;
    default: return z;
    }
}

// f'(z) written from the stored activation h = f(z), as the CPU backends do.
__device__ __forceinline__ REAL fastnet_derivative(REAL h, int kind) {
    switch (kind) {
    case FASTNET_SIGMOID: return h * (1 - h);
    case FASTNET_TANH: return 1 - h * h;
    case FASTNET_RELU: return h > 0 ? 1 : 0;
    default: return 1;
    }
}
