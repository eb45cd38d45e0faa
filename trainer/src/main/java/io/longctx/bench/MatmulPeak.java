package io.longctx.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** The engine's fp32 matrix-multiply throughput: large square matmuls, best of several runs. */
public final class MatmulPeak {
    private MatmulPeak() {
    }

    /** GFLOP/s of the best run over the given sizes, repeats runs per size after one warm-up. */
    public static double gflops(NDManager parent, int[] sizes, int repeats) {
        double best = 0;
        try (NDManager scope = parent.newSubManager()) {
            for (int n : sizes) {
                NDArray a = scope.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
                NDArray b = scope.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
                a.matMul(b).close();
                for (int r = 0; r < repeats; r++) {
                    long start = System.nanoTime();
                    NDArray c = a.matMul(b);
                    c.getFloat(0, 0);                                  // forces completion on any device
                    double seconds = (System.nanoTime() - start) / 1e9;
                    c.close();
                    best = Math.max(best, 2.0 * n * n * n / seconds / 1e9);
                }
            }
        }
        return best;
    }
}
