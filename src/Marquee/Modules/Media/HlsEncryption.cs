using System.Security.Cryptography;
using System.Text;

namespace Marquee.Media;

/// <summary>
/// AES-128 encryption of a packaged HLS title, done here because ffmpeg 5.1's HLS muxer cannot encrypt fMP4
/// ("Encrypted fmp4 not yet supported"). Each media segment (.m4s) is encrypted whole with AES-128-CBC and PKCS7
/// padding under the title's key and a random IV of its own; init segments stay clear. Every media playlist gets an
/// <c>#EXT-X-KEY:METHOD=AES-128,URI="key://&lt;asset&gt;",IV=0x...</c> line before each segment (so the first follows
/// <c>#EXT-X-MAP</c>); the URI is a placeholder that Delivery rewrites per playback session.
/// </summary>
internal static class HlsEncryption
{
    public const int KeyBytes = 16;

    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    /// <summary>The placeholder key URI written into an asset's playlists.</summary>
    public static string KeyUriFor(Guid assetId) => $"key://{assetId:N}";

    /// <summary>Encrypts every media segment named by the media playlists under <paramref name="folder"/> and rewrites those playlists.</summary>
    public static async Task EncryptAsync(string folder, byte[] key, string keyUri, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != KeyBytes)
        {
            throw new ArgumentException("An AES-128 key has 16 bytes.", nameof(key));
        }

        using var aes = Aes.Create();
        aes.Key = key;
        foreach (var playlist in MediaPlaylists(folder))
        {
            var dir = Path.GetDirectoryName(playlist)!;
            var lines = await File.ReadAllLinesAsync(playlist, cancellationToken);
            if (lines.Any(l => l.StartsWith("#EXT-X-KEY", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"{playlist} is encrypted already.");
            }

            var output = new List<string>(lines.Length * 2);
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i];
                if (line.StartsWith("#EXTINF", StringComparison.Ordinal))
                {
                    var segment = NextUri(lines, i) ?? throw new InvalidDataException($"{playlist}: #EXTINF without a segment.");
                    var iv = RandomNumberGenerator.GetBytes(16);
                    await EncryptFileAsync(aes, Path.Combine(dir, segment), iv, cancellationToken);
                    output.Add($"#EXT-X-KEY:METHOD=AES-128,URI=\"{keyUri}\",IV=0x{Convert.ToHexString(iv)}");
                }

                output.Add(line);
            }

            await WriteAtomicallyAsync(playlist, string.Join('\n', output) + "\n", cancellationToken);
        }
    }

    /// <summary>The playlist text with the key placeholder replaced by <paramref name="keyUri"/> (what Delivery does per session).</summary>
    public static string WithKeyUri(string playlist, string placeholder, string keyUri)
    {
        ArgumentNullException.ThrowIfNull(playlist);
        return playlist.Replace($"URI=\"{placeholder}\"", $"URI=\"{keyUri}\"", StringComparison.Ordinal);
    }

    /// <summary>Every media playlist of a packaged title (all <c>.m3u8</c> files in its subfolders).</summary>
    public static IEnumerable<string> MediaPlaylists(string folder) =>
        Directory.EnumerateDirectories(folder).SelectMany(d => Directory.EnumerateFiles(d, "*.m3u8")).Order(StringComparer.Ordinal);

    private static string? NextUri(string[] lines, int from)
    {
        for (var j = from + 1; j < lines.Length; j++)
        {
            var l = lines[j].Trim();
            if (l.Length > 0 && !l.StartsWith('#'))
            {
                return l;
            }
        }

        return null;
    }

    private static async Task EncryptFileAsync(Aes aes, string path, byte[] iv, CancellationToken cancellationToken)
    {
        var clear = await File.ReadAllBytesAsync(path, cancellationToken);
        var sealedBytes = aes.EncryptCbc(clear, iv, PaddingMode.PKCS7);
        var temp = path + ".tmp";
        await File.WriteAllBytesAsync(temp, sealedBytes, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }

    private static async Task WriteAtomicallyAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, text, new UTF8Encoding(false), cancellationToken);
        File.Move(temp, path, overwrite: true);
    }
}
