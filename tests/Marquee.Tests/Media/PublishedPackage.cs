using System.Text.RegularExpressions;

namespace Marquee.Tests.Media;

/// <summary>Checks a published HLS package on disk: every playlist the master names exists, is finished, and every file it names exists.</summary>
internal static partial class PublishedPackage
{
    [GeneratedRegex("URI=\"([^\"]+)\"")]
    private static partial Regex UriAttribute();

    /// <summary>Returns how many media playlists and segments were checked.</summary>
    public static async Task<(int Playlists, int Segments)> AssertCompleteAsync(string folder)
    {
        var master = await File.ReadAllTextAsync(Path.Combine(folder, "master.m3u8"));
        var playlists = master.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith('#'))
            .Concat(master.Split('\n').Where(l => l.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal))
                .Select(l => UriAttribute().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value))
            .Distinct()
            .ToList();
        Assert.NotEmpty(playlists);
        var segments = 0;
        foreach (var playlist in playlists)
        {
            var path = Path.Combine(folder, playlist);
            Assert.True(File.Exists(path), $"{playlist} is named by the master playlist but missing");
            var text = await File.ReadAllTextAsync(path);
            Assert.Contains("#EXT-X-ENDLIST", text, StringComparison.Ordinal);
            var dir = Path.GetDirectoryName(path)!;
            var files = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith('#')).ToList();
            Assert.NotEmpty(files);
            foreach (var map in text.Split('\n').Where(l => l.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal)))
            {
                files.Add(UriAttribute().Match(map).Groups[1].Value);
            }

            foreach (var file in files)
            {
                var info = new FileInfo(Path.Combine(dir, file));
                Assert.True(info.Exists && info.Length > 0, $"{playlist} names {file}, which is missing or empty");
                segments++;
            }
        }

        return (playlists.Count, segments);
    }
}
