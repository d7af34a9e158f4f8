package metricdag.node;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The command line metricdag gives a JVM node:
 * --metric M --node N --partition-date YYYY-MM-DD --input name=path ... --output name=path ... --param k=v ...
 */
public final class NodeArgs {
    public final Map<String, Path> inputs = new LinkedHashMap<>();
    public final Map<String, Path> outputs = new LinkedHashMap<>();
    public final Map<String, String> params = new LinkedHashMap<>();
    public String metric = "";
    public String node = "";
    public LocalDate partitionDate;

    public static NodeArgs parse(String[] args) {
        NodeArgs parsed = new NodeArgs();
        for (int i = 0; i < args.length; i += 2) {
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("flag " + args[i] + " has no value");
            }
            String flag = args[i];
            String value = args[i + 1];
            switch (flag) {
                case "--metric": parsed.metric = value; break;
                case "--node": parsed.node = value; break;
                case "--partition-date": parsed.partitionDate = LocalDate.parse(value); break;
                case "--input": parsed.inputs.put(name(flag, value), Paths.get(rest(value))); break;
                case "--output": parsed.outputs.put(name(flag, value), Paths.get(rest(value))); break;
                case "--param": parsed.params.put(name(flag, value), rest(value)); break;
                default: throw new IllegalArgumentException("unknown flag " + flag);
            }
        }
        return parsed;
    }

    public Path input(String name) {
        Path path = inputs.get(name);
        if (path == null) {
            throw new IllegalArgumentException("no --input " + name + "=<path> given (inputs: " + inputs.keySet() + ")");
        }
        return path;
    }

    public Path output(String name) {
        Path path = outputs.get(name);
        if (path == null) {
            throw new IllegalArgumentException("no --output " + name + "=<path> given (outputs: " + outputs.keySet() + ")");
        }
        return path;
    }

    private static String name(String flag, String value) {
        int eq = value.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException(flag + " " + value + ": expected name=value");
        }
        return value.substring(0, eq);
    }

    private static String rest(String value) {
        return value.substring(value.indexOf('=') + 1);
    }
}
