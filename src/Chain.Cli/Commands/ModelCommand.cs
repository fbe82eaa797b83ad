using System.CommandLine;
using System.Text.Json;
using Chain.Inference.Admission;

namespace Chain.Cli.Commands;

/// <summary>`chain model check FILE`: runs consensus admission on an ONNX file and explains the verdict.</summary>
internal static class ModelCommand
{
    public static Command Create()
    {
        var model = new Command("model", "Inspect ONNX models");
        model.Add(CreateCheck());
        return model;
    }

    private static Command CreateCheck()
    {
        var file = new Argument<string>("FILE") { Description = "The .onnx file to check" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var command = new Command("check", "Check whether a model would be admitted for consensus inference (exit 0 admitted, 1 refused)") { file, json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var path = result.GetValue(file)!;
            byte[] bytes;
            try
            {
                var info = new FileInfo(path);
                if (!info.Exists) throw new CliException($"no such file: {path}");
                // Do not read arbitrarily large files: anything over the limit is refused on size alone.
                if (info.Length > AdmissionLimits.MaxModelBytes)
                    throw new CliException($"{path} is {info.Length} bytes, more than the model limit of {AdmissionLimits.MaxModelBytes}");
                bytes = File.ReadAllBytes(path);
            }
            catch (IOException e)
            {
                throw new CliException($"cannot read {path}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                throw new CliException($"cannot read {path}: {e.Message}");
            }
            var report = ModelAdmission.Check(bytes);
            if (result.GetValue(json)) PrintJson(output, path, report);
            else PrintText(output, path, report);
            if (report.Admitted) return 0;
            // The report above is the answer; stderr gets the one-line verdict every failing command gives.
            var more = report.Reasons.Count > 1 ? $" (+{report.Reasons.Count - 1} more)" : "";
            result.InvocationConfiguration.Error.WriteLine($"error: {path}: model refused: {CliApp.OneLine(report.Reasons.FirstOrDefault()?.ToString() ?? "no reason given")}{more}");
            return 1;
        }));
        return command;
    }

    private static void PrintText(TextWriter output, string path, AdmissionReport report)
    {
        output.WriteLine($"file:      {path}");
        output.WriteLine($"model id:  {report.ModelId}");
        output.WriteLine($"size:      {report.ModelBytes} bytes");
        if (report.Model is { } m)
            output.WriteLine($"opset:     {m.DefaultOpset?.ToString() ?? "none"} ({m.Graph.Nodes.Count} nodes, {m.Graph.Initializers.Count} initializers)");
        if (report.Admitted)
        {
            output.WriteLine("verdict:   admitted");
            output.WriteLine($"MACs:      {report.TotalMacs}");
            output.WriteLine($"gas:       {report.Gas} (work {report.TotalWork} milli-units, arena {report.PeakMemoryBytes} bytes)");
            output.WriteLine($"memory:    {report.PeakMemoryBytes} bytes proven peak (planned arena of {report.MemoryPlan.Buffers.Count} buffers; " +
                             $"{report.MemoryPlan.LiveBytesPeak} live at once at most; limit {AdmissionLimits.MaxArenaBytes})");
            foreach (var v in report.Model!.Graph.Inputs) output.WriteLine($"input:     {v.Name} {report.Values[v.Name]}");
            foreach (var v in report.Model.Graph.Outputs) output.WriteLine($"output:    {v.Name} {report.Values[v.Name]}");
            foreach (var n in report.Nodes)
                output.WriteLine($"  {n.OpType,-16} {(n.Name.Length > 0 ? n.Name : "-")} -> {string.Join(", ", n.Outputs.Select(o => o?.ToString() ?? "-"))}" +
                                 $"{(n.Macs > 0 ? $"  ({n.Macs} MACs)" : "")}{(n.ScratchBytes > 0 ? $"  scratch {n.ScratchBytes} B" : "")}");
        }
        else
        {
            output.WriteLine($"verdict:   refused ({report.Reasons.Count} reason{(report.Reasons.Count == 1 ? "" : "s")})");
            foreach (var r in report.Reasons) output.WriteLine($"  {r}");
        }
    }

    private static void PrintJson(TextWriter output, string path, AdmissionReport report)
    {
        output.WriteLine(JsonSerializer.Serialize(new
        {
            file = path,
            model_id = report.ModelId.ToString(),
            bytes = report.ModelBytes,
            admitted = report.Admitted,
            reasons = report.Reasons.Select(r => new { code = r.Code, message = r.Message, node = r.Node }),
            macs = report.TotalMacs,
            gas = report.Admitted ? report.Gas : (long?)null,
            work = report.TotalWork,
            memory = report.Admitted
                ? new
                {
                    peak_bytes = report.PeakMemoryBytes,
                    live_peak_bytes = report.MemoryPlan.LiveBytesPeak,
                    limit_bytes = AdmissionLimits.MaxArenaBytes,
                    buffers = report.MemoryPlan.Buffers.Select(b => new { value = b.Value, node = b.Node, bytes = b.Bytes, first = b.First, last = b.Last, offset = b.Offset }),
                }
                : null,
            nodes = report.Nodes.Select(n => new
            {
                index = n.Index,
                name = n.Name,
                op = n.OpType,
                macs = n.Macs,
                work = n.Work,
                scratch_bytes = n.ScratchBytes,
                outputs = n.Outputs.Select(o => o?.ToString()),
            }),
        }));
    }
}
