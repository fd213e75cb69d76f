using System.Threading.Channels;

namespace TokenGateway.Events;

/// <summary>An outbox event to deliver: the account whose outbox holds it, and its id there.</summary>
internal readonly record struct EventRef(string AccountId, string EventId);

/// <summary>
/// Hands outbox events from the settle path and the sweep to the webhook delivery in the background.
/// Only a hint: the event itself is in Redis, so one dropped here is still delivered by the next sweep.
/// </summary>
internal sealed class EventQueue
{
    private readonly Channel<EventRef> _channel = Channel.CreateBounded<EventRef>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Enqueue(string accountId, string eventId) => _channel.Writer.TryWrite(new EventRef(accountId, eventId));

    public ChannelReader<EventRef> Reader => _channel.Reader;
}
