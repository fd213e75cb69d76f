namespace TokenGateway.Tokenizers.Bpe;

/// <summary>
/// tiktoken's byte-pair merge of one piece: repeatedly merge the adjacent pair whose concatenation
/// has the lowest rank (the leftmost one on ties) until no adjacent pair is a token.
/// </summary>
internal static class BytePairEncoder
{
    /// <summary>Pieces longer than this use the O(n log n) heap variant instead of tiktoken's O(n²) scan.</summary>
    internal const int HeapThreshold = 256;

    private const int NoRank = int.MaxValue;

    /// <summary>Encodes a piece that is not itself a token. Adds the ids to <paramref name="ids"/> if given; returns their count.</summary>
    public static int Encode(ReadOnlySpan<byte> piece, RankTable ranks, List<int>? ids)
    {
        if (piece.Length == 1)
        {
            ids?.Add(ranks.Lookup(piece));
            return 1;
        }

        return piece.Length <= HeapThreshold ? EncodeByScan(piece, ranks, ids) : EncodeByHeap(piece, ranks, ids);
    }

    /// <summary>The merge loop as tiktoken writes it: parts[i] = (start, rank of parts i..i+1 merged).</summary>
    internal static int EncodeByScan(ReadOnlySpan<byte> piece, RankTable ranks, List<int>? ids)
    {
        int count = piece.Length + 1;
        Span<int> starts = count <= 512 ? stackalloc int[count] : new int[count];
        Span<int> pairRanks = count <= 512 ? stackalloc int[count] : new int[count];

        int minRank = NoRank;
        int minIndex = -1;
        for (int i = 0; i < piece.Length - 1; i++)
        {
            int rank = RankOrNone(ranks, piece.Slice(i, 2));
            if (rank < minRank)
            {
                minRank = rank;
                minIndex = i;
            }

            starts[i] = i;
            pairRanks[i] = rank;
        }

        starts[piece.Length - 1] = piece.Length - 1;
        pairRanks[piece.Length - 1] = NoRank;
        starts[piece.Length] = piece.Length;
        pairRanks[piece.Length] = NoRank;

        while (minRank != NoRank)
        {
            int i = minIndex;

            // Part i absorbs part i+1: the pairs (i-1, i) and (i, i+1) change.
            if (i > 0)
            {
                pairRanks[i - 1] = i + 2 < count ? RankOrNone(ranks, piece[starts[i - 1]..starts[i + 2]]) : NoRank;
            }

            pairRanks[i] = i + 3 < count ? RankOrNone(ranks, piece[starts[i]..starts[i + 3]]) : NoRank;
            starts.Slice(i + 2, count - i - 2).CopyTo(starts[(i + 1)..]);
            pairRanks.Slice(i + 2, count - i - 2).CopyTo(pairRanks[(i + 1)..]);
            count--;

            minRank = NoRank;
            for (int j = 0; j < count - 1; j++)
            {
                if (pairRanks[j] < minRank)
                {
                    minRank = pairRanks[j];
                    minIndex = j;
                }
            }
        }

        if (ids is not null)
        {
            for (int j = 0; j < count - 1; j++)
            {
                ids.Add(ranks.Lookup(piece[starts[j]..starts[j + 1]]));
            }
        }

        return count - 1;
    }

    /// <summary>
    /// Same merge order as <see cref="EncodeByScan"/>: a min-heap keyed by (rank, start) pops the lowest
    /// rank and, among equal ranks, the leftmost pair, which is what the scan picks. Stale entries are
    /// skipped when popped. Keeps long pieces (e.g. a megabyte without spaces) from going quadratic.
    /// </summary>
    internal static int EncodeByHeap(ReadOnlySpan<byte> piece, RankTable ranks, List<int>? ids)
    {
        int n = piece.Length;

        // Parts are a linked list over byte offsets; part p spans [p, next[p]).
        var next = new int[n];
        var prev = new int[n];
        var pairRank = new int[n];
        var heap = new PriorityQueue<int, long>(n);
        for (int i = 0; i < n; i++)
        {
            next[i] = i + 1;
            prev[i] = i - 1;
            pairRank[i] = i + 1 < n ? RankOrNone(ranks, piece.Slice(i, 2)) : NoRank;
            if (pairRank[i] != NoRank)
            {
                heap.Enqueue(i, Key(pairRank[i], i));
            }
        }

        int parts = n;
        while (heap.TryDequeue(out int p, out long key))
        {
            int rank = (int)(key >> 32);
            if (next[p] < 0 || pairRank[p] != rank)
            {
                continue; // merged away, or its pair changed since this entry was queued
            }

            int absorbed = next[p];
            next[p] = next[absorbed];
            next[absorbed] = -1;
            if (next[p] < n)
            {
                prev[next[p]] = p;
            }

            parts--;
            pairRank[p] = next[p] < n ? RankOrNone(ranks, piece[p..End(next, next[p], n)]) : NoRank;
            if (pairRank[p] != NoRank)
            {
                heap.Enqueue(p, Key(pairRank[p], p));
            }

            int before = prev[p];
            if (before >= 0)
            {
                pairRank[before] = RankOrNone(ranks, piece[before..End(next, p, n)]);
                if (pairRank[before] != NoRank)
                {
                    heap.Enqueue(before, Key(pairRank[before], before));
                }
            }
        }

        if (ids is not null)
        {
            for (int p = 0; p < n; p = next[p])
            {
                ids.Add(ranks.Lookup(piece[p..next[p]]));
            }
        }

        return parts;

        static long Key(int rank, int start) => ((long)rank << 32) | (uint)start;

        static int End(int[] next, int part, int n) => part < n ? next[part] : n;
    }

    private static int RankOrNone(RankTable ranks, ReadOnlySpan<byte> bytes)
    {
        int rank = ranks.Lookup(bytes);
        return rank < 0 ? NoRank : rank;
    }
}
