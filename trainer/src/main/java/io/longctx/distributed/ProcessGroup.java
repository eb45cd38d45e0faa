package io.longctx.distributed;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import io.longctx.LongctxException;
import io.longctx.engine.ScriptModule;
import java.util.List;
import java.util.Locale;

/**
 * A c10d process group of this job's ranks (Gloo on CPU, NCCL on CUDA), created by the native shim and used through
 * TorchScript's functional collectives, which work in place on DJL's tensors. Every collective must be called by
 * every rank in the same order; a rank that is gone makes the others fail within the group's timeout.
 */
public final class ProcessGroup implements AutoCloseable {
    private static final String CLASS_NAME = "LongctxCollectives";
    private static final String METHODS = """
              def unflatten(self: __torch__.LongctxCollectives, flat: Tensor, tensors: List[Tensor]) -> None:
                offset = 0
                for t in tensors:
                  n = t.numel()
                  t.copy_(flat[offset:offset + n].view(t.shape))
                  offset += n
                return None
              def launch(self: __torch__.LongctxCollectives, tensors: List[Tensor], group: str) -> Tensor:
                return ops._c10d_functional.all_reduce_(torch.cat([t.reshape([-1]) for t in tensors]), "sum", group)
              def finish(self: __torch__.LongctxCollectives, flat: Tensor, tensors: List[Tensor]) -> None:
                self.unflatten(ops._c10d_functional.wait_tensor(flat), tensors)
                return None
              def all_reduce(self: __torch__.LongctxCollectives, tensors: List[Tensor], op: str, \
            bucket_elements: int, group: str) -> None:
                buckets: List[List[Tensor]] = []
                current: List[Tensor] = []
                size = 0
                for t in tensors:
                  current.append(t)
                  size += t.numel()
                  if size >= bucket_elements:
                    buckets.append(current)
                    current = []
                    size = 0
                if len(current) > 0:
                  buckets.append(current)
                pending: List[Tensor] = []
                pending_buckets: List[List[Tensor]] = []
                for b in buckets:
                  flat = torch.cat([t.reshape([-1]) for t in b])
                  pending.append(ops._c10d_functional.all_reduce_(flat, op, group))
                  pending_buckets.append(b)
                  if len(pending) > 2:
                    self.unflatten(ops._c10d_functional.wait_tensor(pending.pop(0)), pending_buckets.pop(0))
                while len(pending) > 0:
                  self.unflatten(ops._c10d_functional.wait_tensor(pending.pop(0)), pending_buckets.pop(0))
                return None
              def flat_range(self: __torch__.LongctxCollectives, tensors: List[Tensor], start: int, \
            end: int) -> Tensor:
                pieces: List[Tensor] = []
                filled = 0
                offset = 0
                for t in tensors:
                  n = t.numel()
                  lo = max(start, offset)
                  hi = min(end, offset + n)
                  if lo < hi:
                    pieces.append(t.reshape([-1]).narrow(0, lo - offset, hi - lo).float())
                    filled += hi - lo
                  offset += n
                if filled < end - start:
                  pieces.append(tensors[0].new_zeros([end - start - filled]).float())
                return torch.cat(pieces)
              def write_range(self: __torch__.LongctxCollectives, tensors: List[Tensor], start: int, \
            values: Tensor) -> None:
                end = start + values.numel()
                offset = 0
                for t in tensors:
                  n = t.numel()
                  lo = max(start, offset)
                  hi = min(end, offset + n)
                  if lo < hi:
                    t.view([-1]).narrow(0, lo - offset, hi - lo).copy_(values.narrow(0, lo - start, hi - lo))
                  offset += n
                return None
              def reduce_scatter_flat(self: __torch__.LongctxCollectives, tensors: List[Tensor], shard: int, \
            window: int, world: int, group: str) -> Tensor:
                parts: List[Tensor] = []
                o = 0
                while o < shard:
                  w = min(window, shard - o)
                  chunks: List[Tensor] = []
                  for j in range(world):
                    chunks.append(self.flat_range(tensors, j * shard + o, j * shard + o + w))
                  parts.append(ops._c10d_functional.wait_tensor(\
            ops._c10d_functional.reduce_scatter_tensor(torch.cat(chunks), "sum", world, group)))
                  o += w
                return torch.cat(parts)
              def all_gather_flat(self: __torch__.LongctxCollectives, mine: Tensor, targets: List[Tensor], \
            like: Tensor, window: int, world: int, group: str) -> None:
                shard = mine.numel()
                o = 0
                while o < shard:
                  w = min(window, shard - o)
                  full = ops._c10d_functional.wait_tensor(ops._c10d_functional.all_gather_into_tensor(\
            mine.narrow(0, o, w).to(like.device).contiguous(), world, group))
                  for j in range(world):
                    self.write_range(targets, j * shard + o, full.narrow(0, j * w, w))
                  o += w
                return None
            """;
    private static int groups;

    private final WorldInfo world;
    private final String name;
    private final ScriptModule module;
    private final NDManager manager;
    private boolean closed;

    private ProcessGroup(WorldInfo world, String name, ScriptModule module, NDManager manager) {
        this.world = world;
        this.name = name;
        this.module = module;
        this.manager = manager;
    }

    /**
     * Joins the job's group: rank 0 serves a TCP store at MASTER_ADDR:MASTER_PORT and the others connect, each
     * within {@code timeoutSeconds}; then every collective waits at most that long for a peer.
     *
     * @param cudaDevice the rank's CUDA device, or -1 for Gloo on CPU
     */
    public static ProcessGroup join(WorldInfo world, int timeoutSeconds, int cudaDevice) {
        C10dShim.Native_ shim = C10dShim.get();
        String name = "longctx-" + (++groups);
        byte[] error = new byte[1024];
        int code = shim.longctx_c10d_init(name, "tcp", world.masterAddr(), world.masterPort(), world.rank(),
                world.worldSize(), timeoutSeconds * 1000, cudaDevice, error, error.length);
        if (code != 0) {
            throw new LongctxException(String.format(Locale.ROOT, "rank %d of %d: cannot join the process group "
                    + "at %s:%d (%s)", world.rank(), world.worldSize(), world.masterAddr(), world.masterPort(),
                    explain(C10dShim.text(error), world)));
        }
        ScriptModule module = ScriptModule.load(CLASS_NAME, METHODS);
        return new ProcessGroup(world, name, module, module.manager().newSubManager());
    }

    private static String explain(String error, WorldInfo world) {
        String lower = error.toLowerCase(Locale.ROOT);
        if (lower.contains("address already in use")) {
            return "port " + world.masterPort() + " is in use: choose another MASTER_PORT";
        }
        if (lower.contains("timed out") || lower.contains("timeout") || lower.contains("connection refused")) {
            return (world.isMain() ? "not every rank arrived" : "MASTER_ADDR " + world.masterAddr()
                    + " does not answer") + ": " + error;
        }
        return error;
    }

    public WorldInfo world() {
        return world;
    }

    public int rank() {
        return world.rank();
    }

    public int size() {
        return world.worldSize();
    }

    /** Sums the tensors across ranks in place, flattened into buckets of at least {@code bucketBytes}. */
    public void allReduceSum(List<NDArray> tensors, long bucketBytes) {
        allReduce(tensors, "sum", bucketBytes);
    }

    /** Sums launched while other work goes on: at most three flattened buckets in flight. */
    public Pending pending() {
        return new Pending();
    }

    /** Buckets whose sums are under way; each is written back into its tensors when finished. */
    public final class Pending {
        private static final int IN_FLIGHT = 3;
        private final java.util.ArrayDeque<NDArray> flats = new java.util.ArrayDeque<>();
        private final java.util.ArrayDeque<List<NDArray>> members = new java.util.ArrayDeque<>();

        private Pending() {
        }

        /** Starts summing the tensors (handles this object closes when done) in buckets of about bucketBytes. */
        public void launch(List<NDArray> tensors, long bucketBytes) {
            List<NDArray> bucket = new java.util.ArrayList<>();
            long bytes = 0;
            for (NDArray t : tensors) {
                bucket.add(t);
                bytes += t.size() * 4;
                if (bytes >= bucketBytes) {
                    start(bucket);
                    bucket = new java.util.ArrayList<>();
                    bytes = 0;
                }
            }
            if (!bucket.isEmpty()) {
                start(bucket);
            }
        }

        private void start(List<NDArray> bucket) {
            try (IValue list = tensorList(bucket); IValue group = IValue.from(name);
                    IValue flat = module.runInference("launch", list, group)) {
                flats.add(flat.toTensor((PtNDManager) manager));
            } catch (RuntimeException e) {
                throw lost(e);
            }
            members.add(bucket);
            while (flats.size() > IN_FLIGHT) {
                finishOldest();
            }
        }

        private void finishOldest() {
            NDArray flat = flats.poll();
            List<NDArray> bucket = members.poll();
            call("finish", IValue.from((PtNDArray) flat), tensorList(bucket));
            flat.close();
            bucket.forEach(NDArray::close);
        }

        /** Waits for every launched bucket and writes the sums back. */
        public void finishAll() {
            while (!flats.isEmpty()) {
                finishOldest();
            }
        }
    }

    /** The element-wise maximum across ranks, in place. */
    public void allReduceMax(List<NDArray> tensors) {
        allReduce(tensors, "max", Long.MAX_VALUE);
    }

    /** Sums of these numbers across ranks (float64). */
    public double[] sum(double... values) {
        return reduceNumbers("sum", values);
    }

    /** Whether any rank says true. */
    public boolean any(boolean mine) {
        return reduceNumbers("max", mine ? 1 : 0)[0] > 0;
    }

    /** Every rank waits here until all have arrived. */
    public void barrier() {
        reduceNumbers("sum", 0);
    }

    /** The same numbers on every rank: rank {@code source}'s (a sum in which only the source is not zero). */
    public double[] broadcast(int source, double... values) {
        return reduceNumbers("sum", rank() == source ? values : new double[values.length]);
    }

    /**
     * This rank's shard of the flattened tensors summed across ranks: their fp32 concatenation, zero-padded to
     * N x {@code shard} elements, of which rank r receives [r shard, (r+1) shard). Exchanged in windows of
     * {@code windowElements} per rank, so no flat copy of all the tensors is ever made.
     */
    public NDArray reduceScatterFlat(List<NDArray> tensors, long shard, long windowElements, NDManager owner) {
        try (IValue list = tensorList(tensors); IValue s = IValue.from(shard); IValue w = IValue.from(windowElements);
                IValue n = IValue.from((long) size()); IValue group = IValue.from(name);
                IValue out = module.runInference("reduce_scatter_flat", list, s, w, n, group)) {
            return out.toTensor((PtNDManager) owner);
        } catch (RuntimeException e) {
            throw lost(e);
        }
    }

    /**
     * Gathers every rank's shard (in windows, exchanged on the device of {@code exchangeOn}) and writes rank j's into
     * elements [j S, (j+1) S) of the targets, cast to their type; targets may be empty on a rank that only sends.
     */
    public void allGatherFlat(NDArray shard, List<NDArray> targets, NDArray exchangeOn, long windowElements) {
        call("all_gather_flat", IValue.from((PtNDArray) shard), tensorList(targets),
                IValue.from((PtNDArray) exchangeOn), IValue.from(windowElements), IValue.from((long) size()),
                IValue.from(name));
    }

    /** Elements [start, start + length) of the tensors' fp32 concatenation (zeros past its end). */
    public NDArray flatSlice(List<NDArray> tensors, long start, long length, NDManager owner) {
        try (IValue list = tensorList(tensors); IValue from = IValue.from(start);
                IValue to = IValue.from(start + length);
                IValue out = module.runInference("flat_range", list, from, to)) {
            return out.toTensor((PtNDManager) owner);
        }
    }

    private void allReduce(List<NDArray> tensors, String op, long bucketBytes) {
        if (tensors.isEmpty()) {
            return;
        }
        long elements = Math.max(1, bucketBytes / 4);
        call("all_reduce", tensorList(tensors), IValue.from(op), IValue.from(elements), IValue.from(name));
    }

    private double[] reduceNumbers(String op, double... values) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray t = scope.create(values);
            allReduce(List.of(t), op, Long.MAX_VALUE);
            return t.toDoubleArray();
        }
    }

    private void call(String method, IValue... arguments) {
        try (IValue ignored = module.runInference(method, arguments)) {
            // returns None
        } catch (RuntimeException e) {
            throw lost(e);
        } finally {
            for (IValue argument : arguments) {
                argument.close();
            }
        }
    }

    /** A collective that failed: a peer exited or stopped answering within the timeout. */
    private LongctxException lost(RuntimeException e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines()
                .filter(line -> line.contains("Error:")).reduce((a, b) -> b).orElse(e.getMessage().lines()
                        .findFirst().orElse("")).trim();
        return new LongctxException(String.format(Locale.ROOT, "rank %d of %d: a collective failed, another rank "
                + "exited or stopped answering (%s)", rank(), size(), message), e);
    }

    private static IValue tensorList(List<NDArray> tensors) {
        return IValue.listFrom(tensors.stream().map(t -> (PtNDArray) t).toArray(PtNDArray[]::new));
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        manager.close();
        module.close();
        C10dShim.get().longctx_c10d_destroy(name, new byte[256], 256);
    }
}
