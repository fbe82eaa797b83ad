using Chain.Cli;

return await CliApp.Build().Parse(args).InvokeAsync();
