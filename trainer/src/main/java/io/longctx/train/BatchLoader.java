package io.longctx.train;

import io.longctx.LongctxException;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.sample.SequenceSampler;
import io.longctx.data.store.TokenStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.LongFunction;

/**
 * Prepares the sequences of upcoming optimizer steps on a background thread, so reading the store never stalls a
 * step. Each batch carries the sampler cursor after it: a checkpoint taken after a step stores exactly the position
 * the next step starts from, however far ahead the loader has read.
 */
public final class BatchLoader implements AutoCloseable {
    /** The sequences of one optimizer step, split into micro-batches, and the sampler position after them. */
    public record StepBatch(List<List<PackedSequence>> microBatches, SequenceSampler.Cursor cursorAfter) {
    }

    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(2);
    private final Thread thread;
    private volatile boolean stopped;

    public BatchLoader(TokenStore.Split split, SequenceSampler.Cursor start, int microBatch, int gradAccum,
            int steps) {
        this(split.size(), split::sequence, start, microBatch, gradAccum, steps);
    }

    /**
     * @param size sequences in the split
     * @param read the sequence at an index of the split
     */
    BatchLoader(long size, LongFunction<PackedSequence> read, SequenceSampler.Cursor start, int microBatch,
            int gradAccum, int steps) {
        SequenceSampler sampler = new SequenceSampler(size, start);
        thread = new Thread(() -> {
            try {
                for (int s = 0; s < steps && !stopped; s++) {
                    List<List<PackedSequence>> micro = new ArrayList<>(gradAccum);
                    for (int a = 0; a < gradAccum; a++) {
                        List<PackedSequence> batch = new ArrayList<>(microBatch);
                        for (int i = 0; i < microBatch; i++) {
                            batch.add(read.apply(sampler.next()));
                        }
                        micro.add(batch);
                    }
                    queue.put(new StepBatch(micro, sampler.cursor()));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Throwable e) {
                // any failure (an OutOfMemoryError too) reaches the training thread, which stops the run with it
                queue.clear();
                queue.offer(e instanceof LongctxException le ? le : new LongctxException("batch loader: "
                        + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")")
                        + " while preparing the next step's sequences", e));
            }
        }, "longctx-batch-loader");
        thread.setDaemon(true);
        thread.start();
    }

    public StepBatch next() {
        try {
            Object item = queue.take();
            if (item instanceof RuntimeException e) {
                throw e;
            }
            return (StepBatch) item;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for data", e);
        }
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
    }
}
