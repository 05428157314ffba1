"""The recipe widget of lesson 03: edit a recipe (or reorder its steps) and see the nearest
dishes; pick a dish and see the nearest recipes.

    explorer = RecipeExplorer(models, data, encoder, table)
    explorer            # controls, the recipe's own picture and the top-5 dishes, a status line

The status line says what was searched and where the true dish landed, e.g.
``recipe 3, order 2 1 3 | ordered: its own dish is #1 of 2000; the steps paint another picture``.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import torch

from .. import recipes as rc
from ..encoders import encode
from ..world.language import render_recipe
from .base import Explorer, new_figure, png_bytes, to_pixels


class RecipeExplorer(Explorer):
    """Controls ``recipe`` (a dropdown of held-out recipes), ``steps`` (the steps, one a line,
    editable), ``order`` (the object steps' order, e.g. ``2 1 3``, read on Enter), ``model`` (a
    dropdown), and ``dish`` (a dropdown of held-out dishes) for the reverse search. Shows the
    picture the recipe paints and the top-``top_k`` dishes; the top-``top_k`` recipes for the dish.

    Args:
        models: display name -> trained :class:`~mmcourse.recipes.JointEmbedding`.
        data: the held-out :class:`~mmcourse.recipes.PairData` to search.
        encoder: the frozen course encoder (to read the picture a typed recipe paints).
        table: the :class:`~mmcourse.recipes.WordTable`.
        choices: how many recipes and dishes the dropdowns offer.

    ``line`` holds the last status line, ``top`` the last top dishes, ``top_recipes`` the last
    top recipes.
    """

    def __init__(self, models: Mapping[str, torch.nn.Module], data: Any, encoder: torch.nn.Module, table: Any,
                 choices: int = 30, top_k: int = 5, dpi: int = 72) -> None:
        super().__init__()
        if not models:
            raise ValueError("models must hold at least one (name -> model) entry")
        if not 1 <= top_k <= len(data):
            raise ValueError(f"top_k must be between 1 and {len(data)}, got {top_k}")
        self.models, self.data, self.encoder, self.table = dict(models), data, encoder, table
        self.top_k, self.dpi = top_k, dpi
        self.embeddings = {name: rc.embed(m, data) for name, m in self.models.items()}  # name -> (images, recipes)
        n = min(choices, len(data))
        style = {"description_width": "60px"}
        self.recipe = widgets.Dropdown(options=[(f"recipe {i}: {data.texts[i].title}", i) for i in range(n)],
                                       description="recipe", style=style, layout=widgets.Layout(width="330px"))
        self.steps = widgets.Textarea(value="", description="steps", style=style, continuous_update=False,
                                      layout=widgets.Layout(width="520px", height="110px"))
        self.order = widgets.Text(value="", description="order", style=style, continuous_update=False,
                                  placeholder="e.g. 2 1 3, then Enter", layout=widgets.Layout(width="260px"))
        self.model = widgets.Dropdown(options=list(self.models), description="model", style=style,
                                      layout=widgets.Layout(width="260px"))
        self.dish = widgets.Dropdown(options=[(f"dish {i}", i) for i in range(n)], description="dish", style=style,
                                     layout=widgets.Layout(width="200px"))
        self.image = widgets.Image(format="png")
        self.reverse = widgets.HTML()
        self.reverse.add_class("recipe-reverse-search")  # the dish -> recipes list, apart from the status line
        self.top: list[int] = []
        self.top_recipes: list[int] = []
        self.seconds = 0.0
        self.watch([self.recipe], self.pick_recipe)
        self.watch([self.steps, self.order, self.model], self.redraw)
        self.watch([self.dish, self.model], self.search_recipes)
        self.widget = widgets.VBox([widgets.HBox([self.recipe, self.model]), self.steps, self.order, self.image,
                                    self.status, widgets.HBox([self.dish]), self.reverse])
        with self.quiet():
            self._fill(0)
        self.run(self.redraw)
        self.search_recipes()

    def _fill(self, i: int) -> None:
        self.steps.value = "\n".join(self.data.texts[i].steps)
        self.order.value = ""

    def pick_recipe(self) -> str:
        """Load the picked recipe's steps into the text box and search."""
        with self.quiet():
            self._fill(int(self.recipe.value))
        return self.redraw()

    def current_steps(self) -> list[str]:
        """The steps in the box, with the object steps put in the typed order."""
        steps = [s.strip() for s in self.steps.value.splitlines() if s.strip()]
        if not steps:
            raise ValueError("steps is empty: type at least one step")
        text = self.order.value.replace(",", " ").split()
        if not text:
            return steps
        n_objects = len(steps) - 1  # the first step spreads the background
        try:
            order = [int(t) - 1 for t in text]
        except ValueError:
            raise ValueError(f"order must be step numbers 1..{n_objects} separated by spaces, got {self.order.value!r}") from None
        if sorted(order) != list(range(n_objects)):
            raise ValueError(f"order must name each object step 1..{n_objects} once, got {self.order.value!r}")
        return [steps[0]] + [steps[1 + k] for k in order]

    def search(self, steps: list[str], model: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Cosine of the recipe (the picked recipe's ingredients, ``steps``) to every dish ``(N,)``,
        and the picture the steps paint ``(3, S, S)`` uint8."""
        ingredients = rc.twin_ingredients(self.data.texts[int(self.recipe.value)].ingredients, steps)
        net = self.models[model]
        net.eval()
        dev = next(net.parameters()).device
        with torch.no_grad():
            query = net.recipe(rc.recipe_batch([(ingredients, steps)], self.table).to(dev))[0].cpu()  # (E,)
        images, _ = self.embeddings[model]  # (N, E)
        picture = torch.from_numpy(render_recipe(steps, size=int(self.data.images.shape[-1])).images[0]).permute(2, 0, 1)
        return images @ query, picture  # (N,), (3, S, S)

    def redraw(self) -> str:
        """Search the dishes with the recipe in the box; redraw; return the status line."""
        start = time.perf_counter()
        i, model = int(self.recipe.value), self.model.value
        try:
            steps = self.current_steps()
            scores, picture = self.search(steps, model)
        except ValueError as error:
            self.seconds = time.perf_counter() - start
            return self.set_status(f"recipe {i} | {model}: {error}")
        self.top = scores.topk(self.top_k).indices.tolist()
        rank = int((scores > scores[i]).sum()) + 1
        changed = not torch.equal(picture, self.data.images[i]) if steps != self.data.texts[i].steps else False
        order = self.order.value.strip() or "as written"
        line = (f"recipe {i}, order {order} | {model}: its own dish is #{rank} of {len(scores)}"
                + ("; these steps paint another picture than the dish" if changed else ""))
        fig = new_figure(2.0 * (self.top_k + 1) + 0.4, 2.4, dpi=self.dpi)
        axes = fig.subplots(1, self.top_k + 1)
        axes[0].imshow(to_pixels(picture))
        axes[0].set_title("what the steps paint", fontsize=8)
        for r, (ax, j) in enumerate(zip(axes[1:], self.top)):
            ax.imshow(to_pixels(self.data.images[j]))
            ax.set_title(f"#{r + 1}: dish {j}" + (" (its own)" if j == i else ""), fontsize=8,
                         color="green" if j == i else "black")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        self.image.value = png_bytes(fig)
        self.seconds = time.perf_counter() - start
        return self.set_status(line)

    def search_recipes(self) -> str:
        """The top recipes for the picked dish, as HTML; returns its first line."""
        d, model = int(self.dish.value), self.model.value
        images, recipes = self.embeddings[model]
        scores = recipes @ images[d]  # (N,)
        self.top_recipes = scores.topk(self.top_k).indices.tolist()
        rank = int((scores > scores[d]).sum()) + 1
        green = ' style="color:green"'
        items = "".join(
            f"<li{green if j == d else ''}>recipe {j} ({float(scores[j]):.2f}): " + html.escape("; ".join(self.data.texts[j].steps))
            + "</li>" for j in self.top_recipes)
        head = f"dish {d} | {model}: its own recipe is #{rank} of {len(scores)}"
        self.reverse.value = f"<b>{head}</b><ol>{items}</ol>"
        return head
