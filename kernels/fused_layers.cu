// Fused element-wise kernels of one training step: what follows each GEMM.
// Arrays are row-major (C-contiguous): a batch is m rows of n columns.
#include "activations.cuh"

// Z (m, n) += b (n), then Z = f(Z) in place: the bias and activation of a dense layer.
extern "C" __global__ void bias_activate(REAL* Z, const REAL* b, int m, int n, int kind) {
    long long size = (long long)m * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < size;
         i += (long long)gridDim.x * blockDim.x) {
        Z[i] = fastnet_activate(Z[i] + b[i % n], kind);
    }
}

// Softmax of each row of Z (m, n) after adding b, one thread per row: the output
// layers it serves are narrow (classes), so a row fits one thread's loop.
extern "C" __global__ void bias_softmax(REAL* Z, const REAL* b, int m, int n) {
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= m) return;
    REAL* z = Z + (long long)row * n;
    REAL top = z[0] + b[0];
    for (int j = 0; j < n; ++j) { z[j] += b[j]; top = z[j] > top ? z[j] : top; }
    REAL total = 0;
    for (int j = 0; j < n; ++j) { z[j] = exp(z[j] - top); total += z[j]; }
    for (int j = 0; j < n; ++j) z[j] /= total;
}

// Output error for the mean cost: D = (H - Y) * scale, times f'(z) from H when
// the loss is the squared error (for cross-entropy after softmax or sigmoid the
// derivative cancels). Softmax with the squared error needs a row reduction and
// stays on the composed path.
extern "C" __global__ void output_delta(const REAL* H, const REAL* Y, REAL* D, long long size, REAL scale,
                                        int kind, int squared_error) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < size;
         i += (long long)gridDim.x * blockDim.x) {
        REAL d = (H[i] - Y[i]) * scale;
        D[i] = squared_error ? d * fastnet_derivative(H[i], kind) : d;
    }
}

// Hidden error after the GEMM D = delta_next @ W: D *= f'(z), f' from the stored H.
extern "C" __global__ void hidden_delta(REAL* D, const REAL* H, long long size, int kind) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < size;
         i += (long long)gridDim.x * blockDim.x) {
        D[i] *= fastnet_derivative(H[i], kind);
    }
}

// db (n) = column sums of D (m, n): one thread per column, so neighbouring threads
// read neighbouring addresses of each row (coalesced).
extern "C" __global__ void bias_grad(const REAL* D, REAL* db, int m, int n) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= n) return;
    REAL total = 0;
    for (int row = 0; row < m; ++row) total += D[(long long)row * n + col];
    db[col] = total;
}
