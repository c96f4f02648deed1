using Marquee.Fuzz;
using SharpFuzz;

// R29: `dotnet Marquee.Fuzz.dll <target>` under afl-fuzz (fuzz/run.sh instruments marquee.dll first);
// `dotnet Marquee.Fuzz.dll <target> <file>...` runs files once and prints what each did (to look at a crash).
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Marquee.Fuzz <{string.Join("|", FuzzTargets.All.Keys)}> [file...]");
    return 2;
}

if (args.Length > 1)
{
    var failed = 0;
    foreach (var file in args.Skip(1))
    {
        try
        {
            target(File.ReadAllBytes(file));
            Console.WriteLine($"ok    {file}");
        }
#pragma warning disable CA1031 // the point: report whatever it throws
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed++;
            Console.WriteLine($"CRASH {file}: {FuzzTargets.Describe(ex)}");
            Console.WriteLine(ex.StackTrace);
        }
    }

    return failed == 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;
