// The console's only script: the copy button of a new key's secret (everything else works without JavaScript).
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector('.copied');
  try {
    await navigator.clipboard.writeText(field.value);
    status.textContent = 'Copied to the clipboard.';
  } catch {
    field.select();
    status.textContent = 'Select the text and copy it (Ctrl+C).';
  }
});
