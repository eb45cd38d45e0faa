package io.longctx.distributed;

import java.util.ArrayList;
import java.util.List;

/**
 * How one optimizer step is shared among ranks: the step's micro-batches (the single-process order) are dealt
 * round-robin, rank r taking r, r + N, r + 2N, ..., so after each rank has done d of its own the global micro-batches
 * [0, d N) are done; every decision that ends a step early or skips it is agreed by all ranks.
 */
public final class DataParallel {
    public static final DataParallel SINGLE = new DataParallel(null);

    private final ProcessGroup group;

    public DataParallel(ProcessGroup group) {
        this.group = group;
    }

    public int rank() {
        return group == null ? 0 : group.rank();
    }

    public int size() {
        return group == null ? 1 : group.size();
    }

    /** This rank's micro-batches of a step, in order. */
    public <T> List<T> mine(List<T> microBatches) {
        return deal(microBatches, rank(), size());
    }

    public static <T> List<T> deal(List<T> microBatches, int rank, int world) {
        List<T> out = new ArrayList<>((microBatches.size() + world - 1) / world);
        for (int i = rank; i < microBatches.size(); i += world) {
            out.add(microBatches.get(i));
        }
        return out;
    }

    /** True on every rank when any rank says true. */
    public boolean any(boolean mine) {
        return group == null ? mine : group.any(mine);
    }

    /** The sum over ranks. */
    public double sum(double mine) {
        return group == null ? mine : group.sum(mine)[0];
    }

    public void barrier() {
        if (group != null) {
            group.barrier();
        }
    }
}
