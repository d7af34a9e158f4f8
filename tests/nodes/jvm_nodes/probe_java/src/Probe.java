import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import metricdag.node.Csv;
import metricdag.node.Table;

/**
 * A test node whose behaviour is chosen by --param mode=...: it copies input "items" to output
 * "result" (ok), reading it with the node library's Table, or misbehaves in one specific way.
 */
public final class Probe {
    public static void main(String[] args) throws Exception {
        Map<String, String> inputs = new HashMap<>();
        Map<String, String> outputs = new HashMap<>();
        Map<String, String> params = new HashMap<>();
        String partitionDate = "";
        for (int i = 0; i < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--input": inputs.put(value.split("=", 2)[0], value.split("=", 2)[1]); break;
                case "--output": outputs.put(value.split("=", 2)[0], value.split("=", 2)[1]); break;
                case "--param": params.put(value.split("=", 2)[0], value.split("=", 2)[1]); break;
                case "--partition-date": partitionDate = value; break;
                default: break;
            }
        }
        String mode = params.getOrDefault("mode", "ok");
        Path out = Paths.get(outputs.get("result"));
        switch (mode) {
            case "ok":
                copy(Paths.get(inputs.get("items")), out, partitionDate, params.getOrDefault("suffix", ""));
                System.out.println("probe: copied items to result");
                break;
            case "missing_output":
                System.out.println("probe: writing nothing");
                break;
            case "extra_column":
                write(out, "id,amount,day,flag,label,colour", "1,2.5,2024-06-03,true,a,red");
                break;
            case "missing_column":
                write(out, "id,day,flag,label", "1,2024-06-03,true,a");
                break;
            case "bad_value":
                write(out, "id,amount,day,flag,label", "1,2.5,2024-06-03,true,a", "2,lots,2024-06-03,false,b");
                break;
            case "fail":
                for (int n = 1; n <= 30; n++) {
                    System.err.println("problem " + n);
                }
                System.exit(3);
                break;
            case "sleep": {
                Process child = new ProcessBuilder("sleep", "300").start();
                String pids = ProcessHandle.current().pid() + " " + child.pid();
                Files.write(Paths.get(params.get("pid_file")), pids.getBytes(StandardCharsets.UTF_8));
                System.out.println("probe: sleeping");
                Thread.sleep(300_000);
                break;
            }
            case "stream": {
                System.out.println("tick 1");
                System.err.println("tock 1");
                Path go = Paths.get(params.get("go_file"));
                while (!Files.exists(go)) { // the test creates it once it has seen "tick 1" in the log
                    Thread.sleep(20);
                }
                System.out.println("tick 2");
                write(out, "id,amount,day,flag,label", "1,1.0,2024-06-03,true,a");
                break;
            }
            default:
                throw new IllegalArgumentException("unknown mode " + mode);
        }
    }

    static void copy(Path in, Path out, String day, String suffix) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("id,amount,day,flag,label");
        Table items = Table.read(in);
        Table.Column id = items.column("id");
        Table.Column amount = items.column("amount");
        Table.Column flag = items.column("flag");
        Table.Column label = items.column("label");
        for (int row = 0; row < items.rows(); row++) {
            String a = amount.isNull(row) ? "" : String.valueOf(amount.getDouble(row) * 2);
            String f = flag.isNull(row) ? "" : String.valueOf(!flag.getBoolean(row));
            String l = label.isNull(row) ? "" : Csv.Writer.quote(label.getString(row) + suffix);
            lines.add(id.getLong(row) + "," + a + "," + day + "," + f + "," + l);
        }
        write(out, lines.toArray(new String[0]));
    }

    static void write(Path out, String... lines) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out, StandardCharsets.UTF_8))) {
            for (String line : lines) {
                w.print(line + "\n");
            }
        }
    }
}
