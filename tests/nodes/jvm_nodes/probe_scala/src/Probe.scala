import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Paths}

import scala.collection.JavaConverters._

/** A tiny Scala test node: output "totals" = sum of input "items".amount per label, in label order. */
object Probe {
  def main(args: Array[String]): Unit = {
    val flags = args.grouped(2).collect { case Array(flag, value) => (flag, value) }.toList
    def path(flag: String, name: String) =
      Paths.get(flags.collectFirst { case (`flag`, v) if v.startsWith(name + "=") => v.drop(name.length + 1) }.get)
    val rows = Files.readAllLines(path("--input", "items"), UTF_8).asScala.drop(1).map(_.split(",", -1))
    val totals = rows.groupBy(_(3)).mapValues(_.map(_(1).toDouble).sum).toSeq.sortBy(_._1)
    val lines = "label,total" +: totals.map { case (label, total) => s"$label,$total" }
    Files.write(path("--output", "totals"), lines.mkString("", "\n", "\n").getBytes(UTF_8))
    println(s"scala probe: ${rows.size} rows, ${totals.size} labels")
  }
}
