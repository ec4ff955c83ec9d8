// Parameter updates, in place over flat arrays: gradient descent and Adam.
#ifndef REAL
#define REAL double
#endif

// p -= lr * g
extern "C" __global__ void sgd_update(REAL* p, const REAL* g, long long size, REAL lr) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < size;
         i += (long long)gridDim.x * blockDim.x) {
        p[i] -= lr * g[i];
    }
}

// Adam with bias corrections c1 = 1 - beta1^t and c2 = 1 - beta2^t passed in, so
// the step count can live on the host while the kernel stays capturable.
extern "C" __global__ void adam_update(REAL* p, const REAL* g, REAL* m1, REAL* m2, long long size, REAL lr,
                                       REAL beta1, REAL beta2, REAL eps, REAL c1, REAL c2) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < size;
         i += (long long)gridDim.x * blockDim.x) {
        REAL gi = g[i];
        m1[i] = beta1 * m1[i] + (1 - beta1) * gi;
        m2[i] = beta2 * m2[i] + (1 - beta2) * gi * gi;
        p[i] -= lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps);
    }
}
