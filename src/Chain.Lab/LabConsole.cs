using Spectre.Console;

namespace Chain.Lab;

/// <summary>
/// Runs the lab behind a Spectre.Console progress bar written to <paramref name="output"/> (the console only: reports
/// never contain it), with the elapsed time and an ETA from the pace so far; in-process configurations advance it per input.
/// </summary>
public static class LabConsole
{
    public static LabReport RunWithProgress(TextWriter output, Func<Action<LabProgress>, LabReport> run)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        return console.Progress()
            .AutoClear(false)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
                new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("determinism lab", maxValue: 1);
                return run(p =>
                {
                    task.MaxValue = p.Total;
                    task.Value = p.Value;
                    task.Description = Markup.Escape(p.Current);
                });
            });
    }
}
