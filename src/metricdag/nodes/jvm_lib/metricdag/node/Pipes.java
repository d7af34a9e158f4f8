package metricdag.node;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * The external side of Dagster Pipes, with nothing but the JDK.
 *
 * <p>Dagster starts the program with two bootstrap environment variables,
 * {@code DAGSTER_PIPES_CONTEXT} and {@code DAGSTER_PIPES_MESSAGES}, each {@code base64(zlib(JSON))}.
 * The first says where the run's context is (a JSON file, {@code {"path": ...}}, or the context
 * itself, {@code {"data": {...}}}); the second where to write messages (a file, {@code {"path": ...}},
 * or a standard stream, {@code {"stdio": "stderr"}}). A message is one JSON line
 * {@code {"__dagster_pipes_version": "0.1", "method": ..., "params": ...}}: {@code opened} when the
 * program starts, then {@code log}, {@code report_asset_materialization} and {@code report_asset_check}
 * as it goes, {@code closed} (with the exception, if it failed) at the end.
 *
 * <p>Without the bootstrap variables (a node test, a run by hand) the program runs all the same:
 * log lines go to stdout (INFO and DEBUG) or stderr, and reports are dropped.
 */
public final class Pipes implements AutoCloseable {
    public static final String CONTEXT_ENV = "DAGSTER_PIPES_CONTEXT";
    public static final String MESSAGES_ENV = "DAGSTER_PIPES_MESSAGES";
    public static final String PROTOCOL_VERSION = "0.1";

    private final Map<String, Object> context;
    private final String messagesPath; // null: the stream below
    private final PrintStream messagesStream; // null when inactive
    private boolean closed;

    private Pipes(Map<String, Object> context, String messagesPath, PrintStream messagesStream) {
        this.context = context;
        this.messagesPath = messagesPath;
        this.messagesStream = messagesStream;
    }

    /** Opens Pipes from this process's environment and sends {@code opened}. */
    public static Pipes open() {
        return open(System.getenv());
    }

    /** Opens Pipes from {@code env} (the bootstrap variables) and sends {@code opened}. */
    @SuppressWarnings("unchecked")
    public static Pipes open(Map<String, String> env) {
        String contextParam = env.get(CONTEXT_ENV);
        String messagesParam = env.get(MESSAGES_ENV);
        if (contextParam == null || messagesParam == null) {
            return new Pipes(Collections.emptyMap(), null, null);
        }
        Map<String, Object> contextParams = asMap(decodeParam(contextParam), CONTEXT_ENV);
        Map<String, Object> messagesParams = asMap(decodeParam(messagesParam), MESSAGES_ENV);
        Map<String, Object> context;
        if (contextParams.get("path") instanceof String) {
            String path = (String) contextParams.get("path");
            try {
                context = asMap(Json.parse(new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8)), path);
            } catch (IOException exc) {
                throw new IllegalStateException("cannot read the Dagster Pipes context file " + path + ": " + exc, exc);
            }
        } else if (contextParams.get("data") instanceof Map) {
            context = (Map<String, Object>) contextParams.get("data");
        } else {
            throw new IllegalStateException(CONTEXT_ENV + ": expected a \"path\" or \"data\" key, got " + contextParams.keySet());
        }
        Pipes pipes;
        if (messagesParams.get("path") instanceof String) {
            pipes = new Pipes(context, (String) messagesParams.get("path"), null);
        } else if ("stderr".equals(messagesParams.get("stdio")) || "stdout".equals(messagesParams.get("stdio"))) {
            pipes = new Pipes(context, null, "stderr".equals(messagesParams.get("stdio")) ? System.err : System.out);
        } else {
            throw new IllegalStateException(MESSAGES_ENV + ": expected a \"path\" or \"stdio\" key, got " + messagesParams.keySet());
        }
        Map<String, Object> opened = new LinkedHashMap<>();
        opened.put("extras", new LinkedHashMap<>());
        pipes.write("opened", opened);
        return pipes;
    }

    /** True when the program runs under Dagster Pipes (messages reach Dagster). */
    public boolean active() {
        return messagesPath != null || messagesStream != null;
    }

    // ---------------------------------------------------------------- context

    /** The run's id ({@code ""} when inactive). */
    public String runId() {
        Object id = context.get("run_id");
        return id == null ? "" : id.toString();
    }

    /** The partition key, or null. */
    public String partitionKey() {
        Object key = context.get("partition_key");
        return key == null ? null : key.toString();
    }

    /** The asset keys being materialized, each as Dagster's user string ({@code a/b/c}). */
    @SuppressWarnings("unchecked")
    public List<String> assetKeys() {
        Object keys = context.get("asset_keys");
        return keys instanceof List ? (List<String>) keys : Collections.emptyList();
    }

    /** The extras the orchestrating side passed. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> extras() {
        Object extras = context.get("extras");
        return extras instanceof Map ? (Map<String, Object>) extras : Collections.emptyMap();
    }

    // ---------------------------------------------------------------- messages

    public void debug(String message) {
        log("DEBUG", message);
    }

    public void info(String message) {
        log("INFO", message);
    }

    public void warning(String message) {
        log("WARNING", message);
    }

    public void error(String message) {
        log("ERROR", message);
    }

    /** A line in the run's event log at {@code level} (DEBUG, INFO, WARNING, ERROR, CRITICAL). */
    public void log(String level, String message) {
        if (!active()) {
            PrintStream out = "DEBUG".equals(level) || "INFO".equals(level) ? System.out : System.err;
            out.println(message);
            out.flush();
            return;
        }
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("message", message);
        params.put("level", level);
        write("log", params);
    }

    /**
     * Reports a materialization of {@code assetKey} (a user string, {@code a/b/c}) with metadata:
     * raw values (numbers, strings, booleans, lists, maps; Dagster infers the type) or
     * {@link #typed} values.
     */
    public void reportAssetMaterialization(String assetKey, Map<String, ?> metadata, String dataVersion) {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("asset_key", assetKey);
        params.put("data_version", dataVersion);
        params.put("metadata", normalize(metadata));
        write("report_asset_materialization", params);
    }

    /** Reports the result of asset check {@code checkName} on {@code assetKey}; severity ERROR or WARN. */
    public void reportAssetCheck(String assetKey, String checkName, boolean passed, String severity, Map<String, ?> metadata) {
        if (!"ERROR".equals(severity) && !"WARN".equals(severity)) {
            throw new IllegalArgumentException("asset check severity must be ERROR or WARN, got " + severity);
        }
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("asset_key", assetKey);
        params.put("check_name", checkName);
        params.put("passed", passed);
        params.put("metadata", normalize(metadata));
        params.put("severity", severity);
        write("report_asset_check", params);
    }

    /** Sends {@code closed}; later calls do nothing. */
    @Override
    public void close() {
        close(null);
    }

    /** Sends {@code closed} with the exception the program failed with (null: it did not). */
    public void close(Throwable failure) {
        if (closed) {
            return;
        }
        Map<String, Object> params = new LinkedHashMap<>();
        if (failure != null) {
            params.put("exception", exception(failure, 0));
        }
        write("closed", params);
        closed = true;
    }

    /** A metadata value with an explicit Dagster type ("int", "float", "text", "json", "md", "path", "url", ...). */
    public static Map<String, Object> typed(String type, Object rawValue) {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("raw_value", rawValue);
        value.put("type", type);
        return value;
    }

    /** A metadata map from alternating keys and values: {@code metadata("rows", 10, "seconds", 0.5)}. */
    public static Map<String, Object> metadata(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("metadata(...) takes keys and values in pairs");
        }
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put(String.valueOf(keysAndValues[i]), keysAndValues[i + 1]);
        }
        return map;
    }

    private static Map<String, Object> normalize(Map<String, ?> metadata) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (metadata == null) {
            return out;
        }
        for (Map.Entry<String, ?> e : metadata.entrySet()) {
            Object v = e.getValue();
            boolean isTyped = v instanceof Map && ((Map<?, ?>) v).size() == 2
                    && ((Map<?, ?>) v).containsKey("raw_value") && ((Map<?, ?>) v).containsKey("type");
            out.put(e.getKey(), isTyped ? v : typed("__infer__", v));
        }
        return out;
    }

    private static Map<String, Object> exception(Throwable t, int depth) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("name", t.getClass().getName());
        e.put("message", t.getMessage() == null ? t.toString() : t.getMessage());
        StringWriter trace = new StringWriter();
        t.printStackTrace(new PrintWriter(trace));
        List<String> stack = new ArrayList<>();
        for (String line : trace.toString().split("\n")) {
            stack.add(line + "\n");
        }
        e.put("stack", stack);
        e.put("cause", t.getCause() != null && t.getCause() != t && depth < 8 ? exception(t.getCause(), depth + 1) : null);
        e.put("context", null);
        return e;
    }

    private synchronized void write(String method, Map<String, Object> params) {
        if (!active()) {
            return;
        }
        if (closed) {
            throw new IllegalStateException("Dagster Pipes is closed: cannot send " + method);
        }
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("__dagster_pipes_version", PROTOCOL_VERSION);
        message.put("method", method);
        message.put("params", params);
        byte[] line = (Json.write(message) + "\n").getBytes(StandardCharsets.UTF_8);
        if (messagesStream != null) {
            messagesStream.write(line, 0, line.length);
            messagesStream.flush();
            return;
        }
        try (FileOutputStream out = new FileOutputStream(messagesPath, true)) {
            out.write(line); // one write of a whole line: the reader never sees half a message
        } catch (IOException exc) {
            throw new IllegalStateException("cannot write to the Dagster Pipes messages file " + messagesPath + ": " + exc, exc);
        }
    }

    // ---------------------------------------------------------------- bootstrap encoding

    /** {@code base64(zlib(json(value)))}: how Dagster encodes a bootstrap parameter. */
    public static String encodeParam(Object value) {
        Deflater deflater = new Deflater();
        deflater.setInput(Json.write(value).getBytes(StandardCharsets.UTF_8));
        deflater.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (!deflater.finished()) {
            out.write(buf, 0, deflater.deflate(buf));
        }
        deflater.end();
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }

    /** The value of a bootstrap parameter: JSON, zlib-decompressed, base64-decoded. */
    public static Object decodeParam(String encoded) {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(Base64.getDecoder().decode(encoded.trim()));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            while (!inflater.finished()) {
                int n = inflater.inflate(buf);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new IllegalArgumentException("truncated zlib data");
                }
                out.write(buf, 0, n);
            }
            return Json.parse(new String(out.toByteArray(), StandardCharsets.UTF_8));
        } catch (DataFormatException | IllegalArgumentException exc) {
            throw new IllegalArgumentException("not a Dagster Pipes parameter (base64 of zlib of JSON): " + exc.getMessage(), exc);
        } finally {
            inflater.end();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value, String what) {
        if (!(value instanceof Map)) {
            throw new IllegalStateException(what + ": expected a JSON object");
        }
        return (Map<String, Object>) value;
    }
}
