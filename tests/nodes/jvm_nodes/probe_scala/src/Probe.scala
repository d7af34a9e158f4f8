import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Paths}

import metricdag.node.Table

/** A tiny Scala test node: output "totals" = sum of input "items".amount per label, in label order. */
object Probe {
  def main(args: Array[String]): Unit = {
    val flags = args.grouped(2).collect { case Array(flag, value) => (flag, value) }.toList
    def path(flag: String, name: String) =
      Paths.get(flags.collectFirst { case (`flag`, v) if v.startsWith(name + "=") => v.drop(name.length + 1) }.get)
    val items = Table.read(path("--input", "items"))
    val (label, amount) = (items.column("label"), items.column("amount"))
    val rows = (0 until items.rows).map(i => (label.getString(i), amount.getDouble(i)))
    val totals = rows.groupBy(_._1).mapValues(_.map(_._2).sum).toSeq.sortBy(_._1)
    val lines = "label,total" +: totals.map { case (label, total) => s"$label,$total" }
    Files.write(path("--output", "totals"), lines.mkString("", "\n", "\n").getBytes(UTF_8))
    println(s"scala probe: ${rows.size} rows, ${totals.size} labels")
  }
}
