import java.nio.file.{Path, Paths}
import java.time.LocalDate

/** The command line metricdag gives a JVM node:
  * --metric M --node N --partition-date YYYY-MM-DD --input name=path ... --output name=path ... --param k=v ...
  */
final case class NodeArgs(
    metric: String,
    node: String,
    partitionDate: Option[LocalDate],
    inputs: Map[String, Path],
    outputs: Map[String, Path],
    params: Map[String, String]
) {
  def input(name: String): Path =
    inputs.getOrElse(name, throw new IllegalArgumentException(s"no --input $name=<path> given (inputs: ${inputs.keys.mkString(", ")})"))

  def output(name: String): Path =
    outputs.getOrElse(name, throw new IllegalArgumentException(s"no --output $name=<path> given (outputs: ${outputs.keys.mkString(", ")})"))
}

object NodeArgs {
  def parse(args: Array[String]): NodeArgs = {
    require(args.length % 2 == 0, s"flags come in pairs: ${args.mkString(" ")}")
    args.grouped(2).foldLeft(NodeArgs("", "", None, Map.empty, Map.empty, Map.empty)) {
      case (acc, Array("--metric", v))         => acc.copy(metric = v)
      case (acc, Array("--node", v))           => acc.copy(node = v)
      case (acc, Array("--partition-date", v)) => acc.copy(partitionDate = Some(LocalDate.parse(v)))
      case (acc, Array("--input", v))          => acc.copy(inputs = acc.inputs + pair(v, Paths.get(_)))
      case (acc, Array("--output", v))         => acc.copy(outputs = acc.outputs + pair(v, Paths.get(_)))
      case (acc, Array("--param", v))          => acc.copy(params = acc.params + pair(v, identity))
      case (_, Array(flag, _))                 => throw new IllegalArgumentException(s"unknown flag $flag")
    }
  }

  private def pair[T](value: String, f: String => T): (String, T) = {
    val eq = value.indexOf('=')
    require(eq > 0, s"expected name=value, got $value")
    value.substring(0, eq) -> f(value.substring(eq + 1))
  }
}
