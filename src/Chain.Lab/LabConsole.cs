using Spectre.Console;

namespace Chain.Lab;

/// <summary>Runs the lab behind a Spectre.Console progress bar written to <paramref name="output"/>.</summary>
public static class LabConsole
{
    public static LabReport RunWithProgress(TextWriter output, Func<Action<LabProgress>, LabReport> run)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        return console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("determinism lab", maxValue: 1);
                return run(p =>
                {
                    task.MaxValue = p.Total;
                    task.Value = p.Done;
                    task.Description = Markup.Escape(p.Current);
                });
            });
    }
}
