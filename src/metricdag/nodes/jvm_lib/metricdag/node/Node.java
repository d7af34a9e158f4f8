package metricdag.node;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;

/**
 * What a JVM node's {@code main} works with: its command line ({@link NodeArgs}), its inputs
 * ({@link Table}), its outputs ({@link Csv.Writer}) and Dagster ({@link Pipes}): log lines,
 * metadata on each output's materialization, asset-check results.
 *
 * <pre>
 * public static void main(String[] args) throws Exception {
 *     try (Node node = Node.start(args)) {
 *         Table in = node.input("orders");
 *         ...
 *         node.reportOutput("order_totals", Pipes.metadata("dagster/row_count", rows));
 *     } // an exception fails the step: its exit code and the last lines of stderr
 * }
 * </pre>
 */
public final class Node implements AutoCloseable {
    public final NodeArgs args;
    public final Pipes pipes;
    private final long started = System.nanoTime();

    private Node(NodeArgs args, Pipes pipes) {
        this.args = args;
        this.pipes = pipes;
    }

    /** Parses the command line and opens Dagster Pipes (a no-op outside a Dagster run). */
    public static Node start(String[] args) {
        return new Node(NodeArgs.parse(args), Pipes.open());
    }

    public Table input(String dataset) throws IOException {
        return Table.read(args.input(dataset));
    }

    public Path output(String dataset) {
        return args.output(dataset);
    }

    /** A CSV writer for output {@code dataset} with these columns. */
    public Csv.Writer writer(String dataset, String... header) throws IOException {
        return new Csv.Writer(args.output(dataset), header);
    }

    public String param(String name, String fallback) {
        return args.params.getOrDefault(name, fallback);
    }

    /** Seconds since {@link #start}. */
    public double seconds() {
        return Math.round((System.nanoTime() - started) / 1e6) / 1e3;
    }

    public void info(String message) {
        pipes.info(message);
    }

    public void warning(String message) {
        pipes.warning(message);
    }

    /** Metadata for the materialization of output {@code dataset} (e.g. {@code "dagster/row_count"}). */
    public void reportOutput(String dataset, Map<String, ?> metadata) {
        args.output(dataset); // fails for an undeclared output
        pipes.reportAssetMaterialization(assetKey(dataset), metadata, null);
    }

    /**
     * The result of check {@code check} on output {@code dataset}; the check must be declared under
     * the output's {@code checks:} in metric.yaml. {@code severity}: ERROR or WARN.
     */
    public void reportCheck(String dataset, String check, boolean passed, String severity, Map<String, ?> metadata) {
        args.output(dataset);
        pipes.reportAssetCheck(assetKey(dataset), check, passed, severity, metadata);
    }

    @SuppressWarnings("unchecked")
    private String assetKey(String dataset) {
        Object outputs = pipes.extras().get("outputs");
        Map<String, Object> keys = outputs instanceof Map ? (Map<String, Object>) outputs : Collections.emptyMap();
        Object key = keys.get(dataset);
        return key == null ? dataset : key.toString();
    }

    @Override
    public void close() {
        pipes.close();
    }
}
