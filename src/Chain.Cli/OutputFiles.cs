namespace Chain.Cli;

/// <summary>Folders and files the CLI writes for the user.</summary>
internal static class OutputFiles
{
    /// <summary>
    /// Recreates <paramref name="directory"/> for <paramref name="command"/>, but only if it is empty or
    /// was made by the same command (marked with a file), so a mistyped path never wipes user data.
    /// </summary>
    public static void RecreateOwnedDirectory(string directory, string command)
    {
        var marker = Path.Combine(directory, ".chain-" + command);
        if (Directory.Exists(directory))
        {
            if (Directory.EnumerateFileSystemEntries(directory).Any() && !File.Exists(marker))
                throw new CliException($"{directory} exists and was not made by `chain {command}`; choose another --data");
            Directory.Delete(directory, recursive: true);
        }
        Directory.CreateDirectory(directory);
        File.WriteAllText(marker, $"created by chain {command}; safe to delete\n");
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/>, creating its folder first.</summary>
    public static void WriteText(string path, string text)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent) Directory.CreateDirectory(parent);
        File.WriteAllText(path, text);
    }
}
