using Marquee.Cli;

namespace Marquee.Tests.Platform;

/// <summary>What an operator sees when start-up cannot go on: an exit code and one line per problem, no stack trace.</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class CommandLineTests
{
    [Fact]
    public async Task Run_WhenCommandUnknown_ExitsWithUsageError()
    {
        Assert.Equal(MarqueeCommandLine.BadConfiguration, await MarqueeCommandLine.RunAsync(["frobnicate"]));
    }

    [Fact]
    public async Task Serve_WhenDataDirEmpty_ExitsWithBadConfiguration()
    {
        Assert.Equal(MarqueeCommandLine.BadConfiguration, await MarqueeCommandLine.RunAsync(
            ["serve", "--urls", "http://127.0.0.1:0", "--Marquee:DataDir="]));
    }

    [Fact]
    public async Task Serve_WhenProviderUnknown_ExitsWithBadConfiguration()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Equal(MarqueeCommandLine.BadConfiguration, await MarqueeCommandLine.RunAsync(
                ["serve", "--urls", "http://127.0.0.1:0", $"--Marquee:DataDir={dataDir}", "--Marquee:Database:Provider=Oracle"]));
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Serve_WhenCertificateFileMissing_ExitsWithBadConfiguration()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Equal(MarqueeCommandLine.BadConfiguration, await MarqueeCommandLine.RunAsync(
                ["serve", "--urls", "https://127.0.0.1:0", $"--Marquee:DataDir={dataDir}",
                 $"--Kestrel:Certificates:Default:Path={Path.Combine(dataDir, "missing.pem")}"]));
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }
}
