package io.longctx.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * Where passkey trials put the key: on a fixed grid of depths (every trial count per length and depth), or at a
 * random character depth per trial, as the YaRN evaluation does, binned into rows for the heat map.
 *
 * @param grid the depths in [0, 1]; empty for random depths
 * @param bins heat-map rows for random depths
 */
public record PasskeyDepths(List<Double> grid, int bins) {

    public PasskeyDepths {
        grid = List.copyOf(grid);
        for (double d : grid) {
            if (!(d >= 0 && d <= 1)) {
                throw new io.longctx.LongctxException("--depths must lie in [0, 1], got " + d);
            }
        }
        if (grid.isEmpty() && bins < 1) {
            throw new io.longctx.LongctxException("--depth-bins must be >= 1, got " + bins);
        }
    }

    public static PasskeyDepths grid(List<Double> depths) {
        return new PasskeyDepths(depths, depths.size());
    }

    public static PasskeyDepths random(int bins) {
        return new PasskeyDepths(List.of(), bins);
    }

    public boolean isRandom() {
        return grid.isEmpty();
    }

    /** The heat map's rows: the grid, or each bin's centre. */
    public List<Double> rows() {
        if (!isRandom()) {
            return grid;
        }
        List<Double> centres = new ArrayList<>();
        for (int i = 0; i < bins; i++) {
            centres.add((i + 0.5) / bins);
        }
        return centres;
    }

    /** The row a trial's depth falls in. */
    public int rowOf(int gridIndex, double depth) {
        return isRandom() ? Math.min(bins - 1, (int) (depth * bins)) : gridIndex;
    }

    public String describe() {
        return isRandom() ? "a random character depth per trial, binned into " + bins + " rows"
                : "depths " + grid;
    }
}
