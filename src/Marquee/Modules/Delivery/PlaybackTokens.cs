using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Marquee.Platform;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Marquee.Delivery;

/// <summary>
/// Playback tokens, carried in the URL path so that relative URIs in playlists keep them:
/// <c>base64url(sessionId[16, big-endian GUID bytes] || expiry[8, Unix seconds, big-endian] || HMAC-SHA256(secret, first 24 bytes)[32])</c>,
/// 75 characters. The secret is 32 random bytes, made on first use and kept in <c>&lt;DataDir&gt;/keys/playback-token.key</c>
/// encrypted with the key ring (Data Protection; itself encrypted at rest when <c>Marquee:KeyRing</c> names a
/// certificate), so the file alone does not let anyone mint playback URLs. A file of exactly 32 bytes is a secret
/// written in clear by an earlier version: it is read and rewritten encrypted.
/// </summary>
internal sealed class PlaybackTokens
{
    private const int PayloadLength = 24;
    private const int MacLength = 32;
    private readonly byte[] secret;

    public PlaybackTokens(IOptions<MarqueeOptions> options, IDataProtectionProvider protection)
    {
        ArgumentNullException.ThrowIfNull(protection);
        var protector = protection.CreateProtector("Marquee.Delivery.PlaybackTokenSecret.v1");
        secret = LoadOrCreateSecret(Path.Combine(options.Value.FullDataDir, "keys", "playback-token.key"), protector);
    }

    public string Issue(Guid sessionId, DateTimeOffset expiresAt)
    {
        Span<byte> token = stackalloc byte[PayloadLength + MacLength];
        sessionId.TryWriteBytes(token[..16], bigEndian: true, out _);
        BinaryPrimitives.WriteInt64BigEndian(token[16..PayloadLength], expiresAt.ToUnixTimeSeconds());
        HMACSHA256.HashData(secret, token[..PayloadLength], token[PayloadLength..]);
        return Base64Url.EncodeToString(token);
    }

    /// <summary>The session and expiry of a well-formed token whose signature is right (checked in constant time); null otherwise.</summary>
    public (Guid SessionId, DateTimeOffset ExpiresAt)? Read(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 128)
        {
            return null;
        }

        // TryDecodeFromChars throws on a character outside base64url (its "try" is about the buffer's size): check first.
        Span<byte> bytes = stackalloc byte[96];
        if (!Base64Url.IsValid(token) || !Base64Url.TryDecodeFromChars(token, bytes, out var length) || length != PayloadLength + MacLength)
        {
            return null;
        }

        // Only the canonical encoding is accepted (no alternative spellings of the same bytes).
        if (!string.Equals(Base64Url.EncodeToString(bytes[..length]), token, StringComparison.Ordinal))
        {
            return null;
        }

        Span<byte> expected = stackalloc byte[MacLength];
        HMACSHA256.HashData(secret, bytes[..PayloadLength], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, bytes[PayloadLength..length]))
        {
            return null;
        }

        var sessionId = new Guid(bytes[..16], bigEndian: true);
        var expiry = BinaryPrimitives.ReadInt64BigEndian(bytes[16..PayloadLength]);
        return (sessionId, DateTimeOffset.FromUnixTimeSeconds(expiry));
    }

    private static byte[] LoadOrCreateSecret(string path, IDataProtector protector)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            var fresh = RandomNumberGenerator.GetBytes(32);
            try
            {
                using var file = new FileStream(path, PrivateFile(FileMode.CreateNew));
                file.Write(protector.Protect(fresh));
                file.Flush(flushToDisk: true);
                return fresh;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process made it first: use theirs.
            }
        }

        var existing = File.ReadAllBytes(path);
        if (existing.Length == 32)
        {
            // Written in clear by an earlier version: encrypt it in place (write aside, then rename over).
            var aside = path + ".new";
            using (var file = new FileStream(aside, PrivateFile(FileMode.Create)))
            {
                file.Write(protector.Protect(existing));
                file.Flush(flushToDisk: true);
            }

            File.Move(aside, path, overwrite: true);
            return existing;
        }

        try
        {
            var secret = protector.Unprotect(existing);
            return secret.Length == 32 ? secret : throw new CryptographicException("not 32 bytes");
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException(
                $"{path} cannot be read with this key ring ({e.Message}): restore the key ring it was made with, or delete it to make a new one (every playback URL issued so far stops working).", e);
        }
    }

    private static FileStreamOptions PrivateFile(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }
}
