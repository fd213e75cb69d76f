using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TokenGateway.Tokenizers.Bpe;

/// <summary>
/// Token bytes → rank, for ranks 0..Count-1. Open addressing over one byte blob, looked up by
/// <see cref="ReadOnlySpan{T}"/> of UTF-8 bytes so encoding allocates nothing per piece.
/// </summary>
internal sealed class RankTable
{
    private const ulong Empty = 0;

    private readonly byte[] _blob;
    private readonly int[] _offsets;

    // Each slot: high 32 bits = hash tag, low 32 bits = rank + 1 (0 = empty).
    private readonly ulong[] _slots;
    private readonly int _shift;

    // NOTE: every pair lookup of the merge loop starts with 2-byte keys; a direct table (256 KB) skips
    // hashing for them. Entry = rank, or -1.
    private readonly int[] _twoByteRanks;
    private readonly int[] _oneByteRanks;

    public RankTable(byte[] blob, int[] offsets)
    {
        _blob = blob;
        _offsets = offsets;
        Count = offsets.Length - 1;
        int bits = BitOperations.Log2((uint)Math.Max(Count, 16)) + 2; // load factor ≤ 0.5
        _slots = new ulong[1 << bits];
        _shift = 64 - bits;
        int mask = _slots.Length - 1;
        _twoByteRanks = new int[1 << 16];
        _oneByteRanks = new int[1 << 8];
        _twoByteRanks.AsSpan().Fill(-1);
        _oneByteRanks.AsSpan().Fill(-1);
        for (int rank = 0; rank < Count; rank++)
        {
            ReadOnlySpan<byte> key = GetBytes(rank);
            if (key.Length == 1)
            {
                _oneByteRanks[key[0]] = rank;
            }
            else if (key.Length == 2)
            {
                _twoByteRanks[key[0] | (key[1] << 8)] = rank;
            }

            ulong hash = Hash(key);
            int slot = (int)(hash >> _shift);
            while (_slots[slot] != Empty)
            {
                if (GetBytes((int)(uint)_slots[slot] - 1).SequenceEqual(key))
                {
                    throw new InvalidDataException($"Duplicate token at rank {rank}.");
                }

                slot = (slot + 1) & mask;
            }

            _slots[slot] = (hash & 0xFFFF_FFFF_0000_0000UL) | (uint)(rank + 1);
        }
    }

    public int Count { get; }

    public ReadOnlySpan<byte> GetBytes(int rank) => _blob.AsSpan(_offsets[rank], _offsets[rank + 1] - _offsets[rank]);

    /// <summary>The rank of <paramref name="key"/>, or -1.</summary>
    public int Lookup(ReadOnlySpan<byte> key)
    {
        if (key.Length <= 2)
        {
            return key.Length == 2 ? _twoByteRanks[key[0] | (key[1] << 8)] : key.Length == 1 ? _oneByteRanks[key[0]] : -1;
        }

        ulong hash = Hash(key);
        ulong tag = hash & 0xFFFF_FFFF_0000_0000UL;
        int mask = _slots.Length - 1;
        int slot = (int)(hash >> _shift);
        ref ulong slots = ref MemoryMarshal.GetArrayDataReference(_slots);
        while (true)
        {
            ulong entry = Unsafe.Add(ref slots, slot);
            if (entry == Empty)
            {
                return -1;
            }

            if ((entry & 0xFFFF_FFFF_0000_0000UL) == tag)
            {
                int rank = (int)(uint)entry - 1;
                int start = _offsets[rank];
                if (_offsets[rank + 1] - start == key.Length && _blob.AsSpan(start, key.Length).SequenceEqual(key))
                {
                    return rank;
                }
            }

            slot = (slot + 1) & mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Hash(ReadOnlySpan<byte> key)
    {
        ref byte p = ref MemoryMarshal.GetReference(key);
        int length = key.Length;
        ulong h = (ulong)length * 0x9E3779B97F4A7C15UL;
        int i = 0;
        for (; length - i >= 8; i += 8)
        {
            h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i))) * 0xBF58476D1CE4E5B9UL;
            h ^= h >> 29;
        }

        int rest = length - i;
        if (rest > 0)
        {
            ulong tail;
            if (rest >= 4)
            {
                // Two overlapping 4-byte reads cover 4..7 bytes.
                tail = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i))
                    | ((ulong)Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, length - 4)) << 32);
            }
            else
            {
                // 1..3 bytes: first, middle and last.
                tail = Unsafe.Add(ref p, i)
                    | ((ulong)Unsafe.Add(ref p, i + (rest >> 1)) << 8)
                    | ((ulong)Unsafe.Add(ref p, length - 1) << 16);
            }

            h = (h ^ tail) * 0xBF58476D1CE4E5B9UL;
        }

        h ^= h >> 31;
        h *= 0x94D049BB133111EBUL;
        h ^= h >> 32;
        return h;
    }
}
